public import HemeraNATS

extension Hemera {
    /// The task executor that resumes acts' callers on the NATS connection's reply thread with no
    /// thread hop (`NATSReplyExecutor` of HemeraNATS), or `nil` on other transports.
    ///
    /// ```swift
    /// if let executor = hemera.replyExecutor {
    ///     try await withTaskExecutorPreference(executor) {
    ///         for item in items { total += try await hemera.act(Price(id: item)) }
    ///     }
    /// }
    /// ```
    /// The code between acts then runs on the reply thread: keep it short and never block there.
    public var replyExecutor: NATSReplyExecutor? { (transport as? NATSTransport)?.connection.replyExecutor }
}
