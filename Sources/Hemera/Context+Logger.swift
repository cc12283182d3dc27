public import Logging

extension HemeraContext {
    /// The metadata keys of ``logger``.
    public enum LoggerMetadataKey {
        /// The request's id (`request.id` on the wire).
        public static let requestId = "hemera.request.id"
        /// The trace id shared by every call of one distributed operation (`trace.traceId`).
        public static let traceId = "hemera.trace.id"
        /// The request's method string, e.g. `cmd:add,topic:math`.
        public static let pattern = "hemera.pattern"
    }

    /// The service's logger (``HemeraOptions/logger``) with this request's id, trace id and pattern
    /// as metadata, as Hummingbird's `context.logger` carries its request id.
    ///
    /// ```swift
    /// try hemera.add(Reserve.self) { request, context in
    ///     context.logger.info("reserving", metadata: ["productId": "\(request.productId)"])
    ///     // … hemera.request.id=… hemera.trace.id=… hemera.pattern=cmd:reserve,topic:stock
    ///     return true
    /// }
    /// ```
    ///
    /// Built when read (the ids are parsed from the received bytes), so read it once per handler
    /// when logging several times.
    public var logger: Logger {
        var logger = hemera.options.logger
        let request = self.request
        logger[metadataKey: LoggerMetadataKey.requestId] = .string(request.id)
        logger[metadataKey: LoggerMetadataKey.traceId] = .string(trace.traceId)
        logger[metadataKey: LoggerMetadataKey.pattern] = .string(request.method)
        return logger
    }
}

extension Hemera {
    /// The wire error for an error thrown while handling a request. An error that is not public
    /// (see ``HemeraPublicError``) is logged in full at `error` level, with the request's id, trace
    /// id and pattern, and reaches the caller as a generic internal error.
    func handlerError(_ error: any Error, context: HemeraContext) -> HemeraError {
        let logger = context.logger
        let (wire, isInternal) = HemeraError.from(error, requestId: context.request.id)
        if isInternal {
            logger.error(
                "handler failed",
                metadata: ["error": .string(String(reflecting: error)), "error.type": .string("\(type(of: error))")]
            )
        } else {
            logger.debug("handler answered with an error", metadata: ["error": .string("\(wire)")])
        }
        return wire
    }
}
