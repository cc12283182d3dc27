#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The closure a dedicated thread runs, boxed so it can cross `pthread_create` as one pointer.
private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Starts a detached pthread running `body`.
///
/// Used for cnats' blocking calls (connect, flush, RTT, close, destroy, drain waits), which must
/// never run on Swift's cooperative pool, and for destroying a connection away from cnats' own
/// threads (a destroy on a cnats thread could wait for itself).
func spawnDetachedThread(_ body: @escaping @Sendable () -> Void) {
    // passRetained: released exactly once, by `takeRetainedValue` in the thread entry below, or
    // right here if `pthread_create` fails.
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    #if canImport(Darwin)
        var thread: pthread_t?
    #else
        var thread = pthread_t()
    #endif
    let error = pthread_create(
        &thread,
        nil,
        { raw in
            #if canImport(Darwin)
                let box = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            #else
                let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            #endif
            pthread_setspecific(dedicatedThreadKey.key, UnsafeRawPointer(bitPattern: 1))
            box.body()
            return nil
        },
        context
    )
    if error != 0 {
        Unmanaged<ThreadBody>.fromOpaque(context).release()
        // Without a thread the blocking work cannot run safely anywhere else.
        fatalError("pthread_create failed: \(error)")
    }
    #if canImport(Darwin)
        pthread_detach(thread!)
    #else
        pthread_detach(thread)
    #endif
}

/// A task executor that runs every job on a new detached thread of its own.
///
/// Used through ``onDedicatedThread(_:)`` for cnats' blocking calls: the task hops onto a fresh
/// thread, blocks there, and hops back through Swift's own executor machinery. Compared with
/// resuming a continuation from a foreign thread this gives ThreadSanitizer the happens-before
/// edges of job enqueue/run (a continuation resumed before its task finished suspending takes a
/// runtime fast path that TSan cannot see through, and reports a false race).
final class DedicatedThreadExecutor: TaskExecutor {
    static let shared = DedicatedThreadExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = self.asUnownedTaskExecutor()
        spawnDetachedThread {
            job.runSynchronously(on: executor)
        }
    }
}

/// Runs a blocking cnats call on a dedicated thread (never on Swift's cooperative pool) and
/// returns its result to the awaiting task.
///
/// The body must read `nats_GetLastError` itself (it is thread-local) and return a finished
/// `Result`.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withTaskExecutorPreference(DedicatedThreadExecutor.shared) { () async -> T in
        assert(isOnDedicatedThread(), "a blocking cnats call must not run on Swift's pool")
        return body()
    }
}

/// A thread-specific marker set on the threads started by ``spawnDetachedThread(_:)``.
///
/// `@unchecked Sendable`: the key is created once and only read afterwards.
private struct DedicatedThreadKey: @unchecked Sendable {
    var key = pthread_key_t()
    init() { pthread_key_create(&self.key, nil) }
}

private let dedicatedThreadKey = DedicatedThreadKey()

/// Whether the current thread was started by ``spawnDetachedThread(_:)`` (for debug checks).
func isOnDedicatedThread() -> Bool {
    pthread_getspecific(dedicatedThreadKey.key) != nil
}
