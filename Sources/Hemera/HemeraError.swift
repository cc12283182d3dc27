public import HemeraJSON

/// An error on the Hemera wire, or made by the client for a call that failed locally.
///
/// Match it by ``name`` and ``code``:
/// ```swift
/// do { _ = try await hemera.act(["topic": "users", "cmd": "get", "id": 9]) }
/// catch let error as HemeraError where error.name == .patternNotFound { … }
/// catch let error as HemeraError where error.code == "E_NOT_FOUND" { … }
/// ```
public struct HemeraError: Error, Sendable, CustomStringConvertible {
    /// The error's name on the wire (`error.name`).
    public struct Name: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        /// The name as sent.
        public var rawValue: String
        /// Wraps a name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// Wraps a name written as a literal: `"NotFound"`.
        public init(stringLiteral value: String) { rawValue = value }
        public var description: String { rawValue }

        /// No registered pattern matched the request: "No action found for this pattern".
        public static let patternNotFound: Name = "PatternNotFound"
        /// The request did not pass the handler's validation.
        public static let validation: Name = "ValidationError"
        /// No reply within the call's timeout (made by the client, never sent).
        public static let timeout: Name = "TimeoutError"
        /// Nobody subscribes to the topic (made by the client, never sent).
        public static let noResponders: Name = "NoRespondersError"
        /// The message was not valid JSON.
        public static let parse: Name = "HemeraParseError"
        /// A well-formed JSON message that is not a Hemera request or reply.
        public static let invalidRequest: Name = "InvalidRequestError"
        /// A pattern that is not a JSON object, or has no string topic.
        public static let invalidPattern: Name = "InvalidPatternError"
        /// A reply's result did not decode into the caller's reply type.
        public static let responseDecoding: Name = "ResponseDecodingError"
        /// `expectedMessages$` was not met within the timeout.
        public static let expectedMessages: Name = "ExpectedMessagesError"
        /// The Hemera instance or its connection is closed.
        public static let closed: Name = "ClosedError"
        /// A handler failed with an error that has no Hemera name of its own.
        public static let internalError: Name = "Error"
        /// Hemera's own errors seen on the wire.
        public static let processLoad: Name = "ProcessLoadError"
        /// Hemera's recursion guard tripped.
        public static let maxRecursion: Name = "MaxRecursionError"
        /// The action's concurrency limit and queue are full: the request was refused at once
        /// (code `E_OVERLOADED`). Safe to retry later; the handler did not run.
        public static let overloaded: Name = "OverloadedError"
        /// The caller's deadline (the `Hemera-Timeout` header) passed before the handler started:
        /// the handler did not run.
        public static let deadlineExceeded: Name = "DeadlineExceededError"
        /// The server refused to let this connection publish (or subscribe) on the subject
        /// (made by the client, never sent).
        public static let permissionDenied: Name = "PermissionDeniedError"
        /// A request or reply is larger than the server's maximum payload.
        public static let payloadTooLarge: Name = "PayloadTooLargeError"
        /// Not connected to NATS (reconnecting): the request was not sent, so no handler runs it
        /// (made by the client). Safe to retry; idempotent calls are retried. Also sent by a
        /// service whose close ran out of grace period before the handler finished (code
        /// `E_SHUTDOWN`; the handler may have done part of its work).
        public static let unavailable: Name = "UnavailableError"
    }

    /// One service an error passed through.
    public struct Hop: Sendable, Equatable {
        /// The topic of the service.
        public var service: String
        /// The request's method string.
        public var method: String
        /// The service's app name.
        public var app: String
        /// Milliseconds (epoch for Swift services, process-relative for Node ones).
        public var ts: Double

        public init(service: String, method: String, app: String, ts: Double) {
            self.service = service
            self.method = method
            self.app = app
            self.ts = ts
        }
    }

    /// `error.name`: match it against ``Name`` constants or your own names.
    public var name: Name
    /// `error.message`.
    public var message: String
    /// `error.code`, usually a string such as `"E_AUTH"`.
    public var code: JSONValue?
    /// `error.details`: for validation errors an array of `{message, path, type}`.
    public var details: JSONValue?
    /// The services the error passed through, oldest first.
    public var hops: [Hop]
    /// Every other property of the wire error (`stack`, `statusCode`, `isJoi`, …), kept as received.
    public var extra: [String: JSONValue]
    /// The local error this one was made from, if any (never sent).
    public var cause: (any Error)?

    /// Creates an error, e.g. to throw from a handler.
    public init(
        name: Name,
        message: String,
        code: JSONValue? = nil,
        details: JSONValue? = nil,
        hops: [Hop] = [],
        extra: [String: JSONValue] = [:],
        cause: (any Error)? = nil
    ) {
        self.name = name
        self.message = message
        self.code = code
        self.details = details
        self.hops = hops
        self.extra = extra
        self.cause = cause
    }

    /// `code` as a string, when it is one.
    public var codeString: String? { code?.stringValue }

    public var description: String {
        var text = "\(name.rawValue): \(message)"
        if let code { text += " (code \(String(decoding: code.hemeraBytes, as: UTF8.self)))" }
        return text
    }

    /// Decodes a wire error leniently: any missing field gets a default, unknown fields are kept.
    public init(wire: JSONValue) {
        let members = wire.objectValue ?? [:]
        name = Name(rawValue: members["name"]?.stringValue ?? "Error")
        message = members["message"]?.stringValue ?? ""
        code = members["code"].flatMap { $0.isNull ? nil : $0 }
        details = members["details"].flatMap { $0.isNull ? nil : $0 }
        hops = []
        if case .array(let list)? = members["hops"] {
            for hop in list {
                hops.append(
                    Hop(
                        service: hop["service"]?.stringValue ?? "",
                        method: hop["method"]?.stringValue ?? "",
                        app: hop["app"]?.stringValue ?? "",
                        ts: hop["ts"]?.doubleValue ?? 0
                    )
                )
            }
        }
        var rest = members
        for key in ["name", "message", "code", "details", "hops"] { rest[key] = nil }
        extra = rest
        cause = nil
    }

    /// The wire form: `name`, `message`, `code`, `details`, extra fields, `hops`.
    /// Stack traces are included only if `includeStack` and one is in ``extra``.
    public func wire(includeStack: Bool = false) -> JSONValue {
        var members = extra
        if !includeStack { members["stack"] = nil }
        members["name"] = .string(name.rawValue)
        members["message"] = .string(message)
        if let code { members["code"] = code }
        if let details { members["details"] = details }
        members["hops"] = .array(
            hops.map {
                [
                    "service": .string($0.service), "method": .string($0.method), "app": .string($0.app),
                    "ts": .double($0.ts),
                ]
            }
        )
        return .object(members)
    }
}

/// An error type that chooses its own name, message, code and details on the wire.
///
/// ```swift
/// struct NotFound: HemeraErrorConvertible {
///     var id: Int
///     var hemeraError: HemeraError {
///         HemeraError(name: "NotFound", message: "no user \(id)", code: "E_NOT_FOUND")
///     }
/// }
/// ```
public protocol HemeraErrorConvertible: Error {
    /// The error as sent to the caller (hops are appended by the service).
    var hemeraError: HemeraError { get }
}

extension HemeraError: HemeraErrorConvertible {
    public var hemeraError: HemeraError { self }
}

/// An error type of your own whose description may be shown to callers as it is.
///
/// A handler error that is neither a ``HemeraError``, a ``HemeraErrorConvertible``, a validation
/// error nor a `HemeraPublicError` reaches the caller as a generic internal error (name `Error`,
/// code `E_INTERNAL`), as gRPC does with errors that are not `RPCError`s; its detail goes to the
/// service's log. Conform to this protocol to send the error's description instead:
///
/// ```swift
/// struct OutOfRange: HemeraPublicError, CustomStringConvertible {
///     var description: String { "the value is out of range" }
/// }
/// // the caller gets {name: "Error", message: "the value is out of range"}
/// ```
public protocol HemeraPublicError: Error {}

extension HemeraError {
    /// The code of the generic error a caller gets for a handler error that is not public.
    public static let internalCode: JSONValue = "E_INTERNAL"

    /// Makes a wire error from any error a handler throws, hiding the detail of errors that are not
    /// public (see ``HemeraPublicError``).
    ///
    /// - Returns: the wire error, and whether it hid the original error (which the caller then logs).
    static func from(_ error: any Error, requestId: String) -> (error: HemeraError, isInternal: Bool) {
        if let convertible = error as? any HemeraErrorConvertible {
            var converted = convertible.hemeraError
            if converted.cause == nil, !(error is HemeraError) { converted.cause = error }
            return (converted, false)
        }
        if let failure = error as? ValidationFailure { return (failure.hemeraError, false) }
        if error is any HemeraPublicError {
            return (HemeraError(name: .internalError, message: String(describing: error), cause: error), false)
        }
        let message = requestId.isEmpty ? "Internal error" : "Internal error (request \(requestId))"
        return (HemeraError(name: .internalError, message: message, code: internalCode, cause: error), true)
    }
}
