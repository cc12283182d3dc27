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
    let error = pthread_create(&thread, nil, { raw in
        #if canImport(Darwin)
        let box = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
        #else
        let box = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
        #endif
        box.body()
        return nil
    }, context)
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

/// Runs a blocking cnats call on a dedicated thread and returns its result to the awaiting task.
///
/// The body must read `nats_GetLastError` itself (it is thread-local) and return a finished
/// `Result`.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    // Unsafe continuation: resumed exactly once, by the thread started right here, which runs
    // `body` exactly once and cannot be cancelled.
    await withUnsafeContinuation { (continuation: UnsafeContinuation<T, Never>) in
        spawnDetachedThread {
            continuation.resume(returning: body())
        }
    }
}
