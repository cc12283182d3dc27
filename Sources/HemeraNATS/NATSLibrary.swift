internal import CNats

/// Process-wide operations of the C library.
public enum NATSLibrary {
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
