import HemeraLocks

/// A request ready to run through ``Hemera/runPlain(_:action:context:)``: what the task started
/// for it used to capture.
struct PlainJob: Sendable {
    let hemera: Hemera
    let handler: PreparedHandler
    let action: RegisteredAction
    let context: HemeraContext

    /// `consuming`, as the job is handed along (`submit`, the continuation, the worker): moved
    /// each time rather than copied. A copy of a job is about ten retains and as many releases
    /// later (its context alone holds eight references); profiles counted three copies and four
    /// destructions per request, about 3k instructions.
    nonisolated(nonsending) consuming func run() async { await hemera.runPlain(handler, action: action, context: context) }
}

/// Recycled tasks for plain handlers (issue 12). A task made per request cost its task object,
/// the closure's context and the first slabs of its async frames: about three mallocs and frees
/// per request. A worker here runs a request, then parks on a continuation until it is handed the
/// next one, keeping its task and frames. A request goes to a parked worker when there is one
/// (the most recently parked: its memory is the warmest), else to a new worker; so as many run at
/// once as before, and a handler that blocks its worker holds up nothing else. At most
/// `maxParked` workers wait; one that finds the limit reached ends.
///
/// Workers are detached tasks (they carry no task-locals or priority of whoever made them; a
/// request's context is set by `runPlain`). They hold the pool weakly while parked: when the pool
/// stops (``stop()``, from ``Hemera/close(gracePeriod:)``) or goes away, the parked workers are
/// resumed with `nil` and end.
final class HandlerWorkers: Sendable {
    static let maxParked = 128

    struct State {
        var parked: [UnsafeContinuation<PlainJob?, Never>] = []
        var stopped = false
    }

    private let state: PthreadLock<State>

    init() {
        var initial = State()
        initial.parked.reserveCapacity(Self.maxParked)
        state = PthreadLock(initial)
    }

    deinit { stop() }

    /// Runs `job` on a parked worker, or on a new one. After ``stop()``, on a task of its own.
    func submit(_ job: consuming PlainJob) {
        let worker = state.withLock { state -> UnsafeContinuation<PlainJob?, Never>? in
            state.stopped ? nil : state.parked.popLast()
        }
        if let worker {
            // Resumed outside the lock: the worker may run at once on another thread.
            #if DEBUG
                var handed: PlainJob? = job
                Self.handoff.withLock { _ in worker.resume(returning: handed.take()) }
            #else
                worker.resume(returning: job)
            #endif
            return
        }
        let first = FirstJob(job)  // the last use of `job`: moved
        let pool = WeakPool(value: self)
        Task.detached { await Self.work(first: first, pool: pool) }
    }

    /// Resumes every parked worker with `nil` (they end); later requests each get a task of their own.
    func stop() {
        let parked = state.withLock { state -> [UnsafeContinuation<PlainJob?, Never>] in
            state.stopped = true
            defer { state.parked.removeAll() }
            return state.parked
        }
        #if DEBUG
            Self.handoff.withLock { _ in for worker in parked { worker.resume(returning: nil) } }
        #else
            for worker in parked { worker.resume(returning: nil) }
        #endif
    }

    #if DEBUG
        /// Gives ThreadSanitizer (whose runs are debug builds) the edge between a resume and the
        /// worker it wakes: the resume reads the continuation in the worker's frame, which the
        /// worker later reuses, and the Swift runtime's hand-off that orders the two is not
        /// TSan-instrumented. Resumes are made holding this lock, and a woken worker takes it once
        /// (as `RequestTable` does for replies). Release builds skip it. An `Int`, not `Void`: a
        /// zero-sized value shares its address with the lock's other fields, which TSan reported
        /// as an access race.
        static let handoff = PthreadLock(0)
    #endif

    /// The number of workers parked now (for tests).
    var parkedCount: Int { state.withLock { $0.parked.count } }

    /// Parks `continuation` unless the pool stopped or is full; returns whether it did.
    private func park(_ continuation: UnsafeContinuation<PlainJob?, Never>) -> Bool {
        state.withLock { state in
            guard !state.stopped, state.parked.count < Self.maxParked else { return false }
            state.parked.append(continuation)
            return true
        }
    }

    /// A worker's life: its first request, then each one it is handed, until it is told to end.
    /// Nothing of a finished request stays reachable from the parked worker (the job is taken out
    /// of `next` for the call), so a parked worker keeps no `Hemera` or context alive.
    private static func work(first: FirstJob, pool: WeakPool) async {
        var next = first.take()
        while let job = next.take() {
            await job.run()
            // Safe (an unsafe continuation): it is resumed exactly once. Either it is parked under
            // the pool's lock, and then taken out under that lock by exactly one `submit` (resumed
            // with a job) or one `stop` (resumed with nil; the pool's deinit calls `stop`); or it
            // is not parked, and it is resumed here at once.
            next = await withUnsafeContinuation { (continuation: UnsafeContinuation<PlainJob?, Never>) in
                guard let pool = pool.value, pool.park(continuation) else {
                    continuation.resume(returning: nil)
                    return
                }
            }
            #if DEBUG
                Self.handoff.withLock { _ in }
            #endif
        }
    }
}

/// The pool as its workers see it: weakly, so parked workers never keep it alive.
struct WeakPool: Sendable {
    weak var value: HandlerWorkers?
}

/// The first request of a new worker, handed to its task and taken out by it, so the task's closure
/// (alive as long as the worker) keeps nothing of it.
///
/// `@unchecked Sendable`: `job` is written in `init`, before the task that reads it is created
/// (creating a task orders what came before it), and then read and cleared by that task alone.
private final class FirstJob: @unchecked Sendable {
    private var job: PlainJob?
    init(_ job: consuming PlainJob) { self.job = job }
    func take() -> PlainJob? { job.take() }
}
