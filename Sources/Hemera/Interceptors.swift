public import HemeraJSON

/// An outgoing call as client interceptors see it.
public struct ActRequest: Sendable {
    /// The keys sent on the wire.
    public var pattern: [String: JSONValue]
    /// Metadata sent (inherited meta merged with the call's).
    public var meta: [String: JSONValue]
    /// Data for the called service only.
    public var delegate: [String: JSONValue]
    /// How long to wait for the reply.
    public var timeout: Duration
    /// `true` for a fire-and-forget publish (`pubsub$`).
    public var isPubSub: Bool
    /// `true` when the pattern is marked idempotent (`idempotent$: true` or a
    /// ``HemeraIdempotentPattern``): the call may be retried under ``HemeraOptions/retryPolicy``.
    public var isIdempotent: Bool = false
}

/// The reply of a call as client interceptors see it.
public struct ActResponse: Sendable {
    /// The reply's `result` (`null` when absent).
    public var result: JSONValue
    /// The reply's `meta`.
    public var meta: [String: JSONValue]

    /// Creates a response (e.g. to answer from an interceptor without sending).
    public init(result: JSONValue, meta: [String: JSONValue]) {
        self.result = result
        self.meta = meta
    }
}

/// Wraps every `act` made by a Hemera instance (the first installed runs outermost), in the
/// shape of grpc-swift-2's `ClientInterceptor`: code before `next` runs before sending, code
/// after it once the reply arrived; throw to fail the call.
///
/// ```swift
/// struct AddToken: HemeraClientInterceptor {
///     func intercept(_ request: ActRequest, next: @Sendable (ActRequest) async throws -> ActResponse) async throws -> ActResponse {
///         var request = request
///         request.meta["token"] = "abc"
///         return try await next(request)
///     }
/// }
/// ```
public protocol HemeraClientInterceptor: Sendable {
    /// Wraps one call: call `next` to send it (possibly changed) and get the reply.
    func intercept(
        _ request: ActRequest,
        next: @Sendable (ActRequest) async throws -> ActResponse
    ) async throws -> ActResponse
}

/// A reply a service is about to send (or sent), as server interceptors see it.
public struct ServerReply: Sendable {
    enum Body: Sendable {
        case encoded([UInt8]?)
        case value(JSONValue)
    }

    var body: Body
    /// The error sent instead of a result, if any.
    public var error: HemeraError?

    /// The reply's result as JSON (`nil` for an error reply or a handler without result).
    public var result: JSONValue? {
        get {
            switch body {
            case .value(let value): return value
            case .encoded(let bytes?): return try? JSONValue(parsing: bytes)
            case .encoded(nil): return nil
            }
        }
        set { body = newValue.map { .value($0) } ?? .encoded(nil) }
    }
}

/// Service-side extension points (Hemera's `onRequest`, `preHandler`, `onSend`, `onResponse`,
/// `onError`), all async; implement only the ones you need. Interceptors run in the order installed.
public protocol HemeraServerInterceptor: Sendable {
    /// A request arrived for this instance (after parsing and matching, before validation results
    /// are acted on). Throw to reject it with that error.
    func onRequest(_ context: HemeraContext) async throws
    /// The request passed validation; the handler runs next. Throw to reject it.
    func preHandler(_ context: HemeraContext) async throws
    /// A reply (result or error) is about to be sent; it may be changed.
    func onSend(_ reply: inout ServerReply, context: HemeraContext) async throws
    /// The reply was published.
    func onResponse(_ reply: ServerReply, context: HemeraContext) async
    /// The request failed (no match, validation, handler error).
    func onError(_ error: HemeraError, context: HemeraContext) async
}

extension HemeraServerInterceptor {
    public func onRequest(_ context: HemeraContext) async throws {}
    public func preHandler(_ context: HemeraContext) async throws {}
    public func onSend(_ reply: inout ServerReply, context: HemeraContext) async throws {}
    public func onResponse(_ reply: ServerReply, context: HemeraContext) async {}
    public func onError(_ error: HemeraError, context: HemeraContext) async {}
}

/// Per-action middleware, run around the handler (after validation), first added outermost.
///
/// ```swift
/// let audit = HemeraMiddleware { context, next in
///     guard context.meta["token"] != nil else { throw HemeraError(name: "Unauthorized", message: "no token") }
///     try await next()
/// }
/// ```
public struct HemeraMiddleware: Sendable {
    let body: @Sendable (HemeraContext, @Sendable () async throws -> Void) async throws -> Void

    /// Creates middleware from a closure; call `next()` to run the rest of the chain.
    public init(
        _ body: @escaping @Sendable (HemeraContext, _ next: @Sendable () async throws -> Void) async throws -> Void
    ) {
        self.body = body
    }
}
