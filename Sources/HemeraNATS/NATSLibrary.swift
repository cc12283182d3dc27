internal import CNats
internal import HemeraLocks

/// Process-wide operations of the C library.
public enum NATSLibrary {
    /// Whether cnats was opened through ``open(lockSpinCount:)`` (or by the first connection).
    private static let opened = PthreadLock(false)

    /// Initializes cnats with how many times its locks spin before sleeping. Call it before the
    /// first connection; later calls (and calls after any other use of cnats in the process) have no
    /// effect and return `false`.
    ///
    /// Connections open the library with a spin count of **0** unless this was called first:
    /// cnats' default (2,000 spins of `pthread_mutex_trylock`) burns the CPU that the thread
    /// holding the lock needs whenever there are more busy threads than cores, which with one
    /// delivery thread per subscription, a reader and a flusher per connection, Swift's pool and a
    /// local nats-server is the normal case. Measured on a 2-core VM, raw cnats request/reply,
    /// 8,000 requests: pinned to one CPU 99 µs -> 80 µs wall per request and p90 181 -> 107 µs;
    /// on both cores p50 206 -> 171-185 µs. On a machine with many idle cores, spinning can save
    /// a wake-up: pass a positive count (or -1 for cnats' default) to get it back.
    /// - Returns: `true` when this call initialized the library with `lockSpinCount`.
    /// - Throws: ``NATSError`` when cnats cannot initialize.
    ///
    /// The corresponding C function is `nats_Open`.
    @discardableResult
    public static func open(lockSpinCount: Int) throws(NATSError) -> Bool {
        let status: natsStatus? = opened.withLock { opened in
            if opened { return nil }
            let status = nats_Open(Int64(lockSpinCount))
            if status == NATS_OK { opened = true }
            return status
        }
        guard let status else { return false }
        try check(status)
        return true
    }

    /// Opens cnats with the library's default spin count (0) unless it was opened before.
    static func openIfNeeded() throws(NATSError) {
        try open(lockSpinCount: 0)
    }

    /// Releases cnats' global resources (its threads and pools) and waits until they are gone.
    ///
    /// Call it once at the very end of a process, after every connection was closed, e.g. so that
    /// LeakSanitizer sees no cnats allocations. cnats must not be used afterwards; in a test process
    /// it must not run while other tests still use NATS. Runs on a dedicated thread.
    /// - Parameter timeout: how long to wait; `nil` waits as long as it takes.
    /// - Throws: ``NATSError``, e.g. ``NATSError/Code/timeout`` or ``NATSError/Code/illegalState``
    ///   when called from a cnats thread.
    ///
    /// The corresponding C function is `nats_CloseAndWait`.
    public static func closeAndWait(timeout: Duration? = nil) async throws {
        let milliseconds = timeout?.cMilliseconds ?? 0
        let result: Result<Void, NATSError> = await onDedicatedThread {
            MessageReaper.shared.drain()
            let status = nats_CloseAndWait(milliseconds)
            return status == NATS_OK ? .success(()) : .failure(NATSError(status: status))
        }
        try result.get()
    }
}
