import HemeraJSON

extension Hemera {
    /// Runs `operation` so that every act made in it continues a trace begun outside Hemera, such
    /// as an HTTP request carrying a W3C `traceparent` header.
    ///
    /// The acts get `traceId` as their trace id and `spanId` as their `parentSpanId`, exactly as
    /// nested acts inside a handler do; nothing else of a handler's context is set (no `meta`, no
    /// deadline). An HTTP gateway calls it once per request:
    /// ```swift
    /// let product = try await hemera.continuingTrace(traceId: incoming.traceId, spanId: gatewaySpan) {
    ///     try await hemera.act(["topic": "products", "cmd": "get", "id": 1])
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - traceId: The trace to continue, e.g. the 32 hexadecimal digits of a `traceparent`.
    ///   - spanId: The caller's span: the parent of each act's span.
    ///   - operation: The work whose acts belong to the trace.
    /// - Returns: What `operation` returns.
    /// - Throws: What `operation` throws.
    public func continuingTrace<Result>(
        traceId: String,
        spanId: String,
        _ operation: () async throws -> Result
    ) async rethrows -> Result {
        var trace = HemeraTrace(traceId: traceId, spanId: spanId, timestamp: 0, service: "", method: "")
        var writer = JSONWriter(capacity: 64 + traceId.utf8.count + spanId.utf8.count)
        trace.write(to: &writer)
        let payload = writer.bytes
        // Acts read only `trace`, `meta` and `deadline` of the current context: the trace object
        // is the whole payload, meta is empty and there is no deadline.
        let context = HemeraContext(
            pattern: .object([:]),
            meta: [:],
            delegate: [:],
            subject: "",
            replyTo: nil,
            hemera: self,
            payload: payload,
            rawTrace: 0..<payload.count,
            rawRequest: nil,
            deadline: nil
        )
        return try await HemeraContext.$current.withValue(context, operation: operation)
    }
}
