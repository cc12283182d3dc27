import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A task executor that resumes callers waiting for replies on the connection's reply thread, with
/// no thread hop.
///
/// A reply resumes its caller from cnats' delivery thread of the reply inbox. Normally the caller
/// then continues on Swift's global executor: one more thread wake-up per request (on a 2-core VM
/// about 40 µs when it crosses cores). Code that runs with this executor as its task executor
/// preference continues on the delivery thread itself, right after the reply is handed over,
/// until its next suspension, e.g. the next request:
///
/// ```swift
/// try await withTaskExecutorPreference(connection.replyExecutor) {
///     for order in orders {
///         let reply = try await connection.request(to: "orders.price", payload: order, timeout: .seconds(1))
///         total += decodePrice(reply.payload)   // runs on the reply thread: keep it short
///     }
/// }
/// ```
///
/// While such code runs, later replies of this connection wait: use it for request loops whose
/// work between requests is short, never for blocking calls. Jobs enqueued from any other thread
/// (the first start of the task, a timeout, a cancellation) run on Swift's global thread pool with
/// this executor as their task executor, as any task executor's jobs would.
///
/// `@unchecked Sendable`: `inline` is only touched by the thread named in `deliveringThread`,
/// which is the thread that stores its own id there (`beginDelivery()`) and clears it
/// (`endDelivery()`); cnats runs the reply handler of one subscription on one thread at a time,
/// so between those two calls no other thread reads or writes `inline`.
public final class NATSReplyExecutor: TaskExecutor, @unchecked Sendable {
    /// The thread handing over a reply right now, or 0.
    private let deliveringThread = Atomic<UInt>(0)
    /// Jobs enqueued by the delivering thread while it hands over a reply, run by it afterwards.
    private var inline: [UnownedJob] = []

    init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Relaxed: a thread only ever finds its own id here if it stored it itself.
        if self.deliveringThread.load(ordering: .relaxed) == Self.currentThread {
            self.inline.append(job)
            return
        }
        let executor = self.asUnownedTaskExecutor()
        DispatchQueue.global().async { job.runSynchronously(on: executor) }
    }

    /// Called by the reply handler before it hands a reply over.
    func beginDelivery() {
        self.deliveringThread.store(Self.currentThread, ordering: .relaxed)
    }

    /// Called by the reply handler after it handed a reply over: runs the callers it resumed
    /// (and whatever they enqueue from this thread) until they suspend.
    func endDelivery() {
        let executor = self.asUnownedTaskExecutor()
        while !self.inline.isEmpty {
            let jobs = self.inline
            self.inline.removeAll(keepingCapacity: true)
            for job in jobs { job.runSynchronously(on: executor) }
        }
        self.deliveringThread.store(0, ordering: .relaxed)
    }

    /// Whether the calling code runs inside a reply hand-off of this executor (for tests).
    var isDeliveringOnCurrentThread: Bool { self.deliveringThread.load(ordering: .relaxed) == Self.currentThread }

    private static var currentThread: UInt {
        #if canImport(Darwin)
            UInt(bitPattern: pthread_self())
        #else
            UInt(pthread_self())
        #endif
    }
}
