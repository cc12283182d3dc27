public import Hemera
public import HemeraJSON

/// An error as the gateway answers it over HTTP: a status code and a JSON body holding exactly
/// `name`, `message`, `code` and `details` (the last two `null` when absent). Nothing else of a
/// service error crosses: no stack, no hops, no extra fields.
///
/// ``init(_:traceId:)`` maps Hemera errors to statuses:
///
/// | error                                   | status |
/// |-----------------------------------------|--------|
/// | `ValidationError`                       | 400, with its `details` |
/// | `NotFound`, `PatternNotFound`           | 404 |
/// | `TimeoutError`                          | 504 |
/// | `NoRespondersError`                     | 503 |
/// | `OverloadedError`                       | 503, with `Retry-After` |
/// | anything else                           | 500 |
///
/// A 500 keeps the name, message and code a service chose for its own error (e.g. `RangeError`),
/// but an unnamed handler error (`Error`) and Hemera's own internal failures (a reply that does not
/// parse, a closed connection, …) are answered as `InternalError` with a fixed message that
/// names only the trace id, so no internal text reaches the HTTP caller.
public struct GatewayError: Error, Sendable, Equatable {
    /// The HTTP status code.
    public var status: Int
    /// `name` of the body.
    public var name: String
    /// `message` of the body.
    public var message: String
    /// `code` of the body.
    public var code: JSONValue?
    /// `details` of the body.
    public var details: JSONValue?
    /// Seconds for a `Retry-After` header, if any.
    public var retryAfterSeconds: Int?
    /// The methods of an `Allow` header (405 only).
    var allow: [String] = []

    /// Creates an error answered as is.
    public init(
        status: Int,
        name: String,
        message: String,
        code: JSONValue? = nil,
        details: JSONValue? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.name = name
        self.message = message
        self.code = code
        self.details = details
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// Hemera's names that describe a failure inside the gateway or a service rather than
    /// something the HTTP caller can act on: answered as a generic `InternalError`.
    static let internalNames: Set<HemeraError.Name> = [
        .internalError, .parse, .invalidRequest, .invalidPattern, .responseDecoding, .closed,
        .permissionDenied, .processLoad, .maxRecursion, .payloadTooLarge, .expectedMessages,
    ]

    /// Maps a Hemera error to its HTTP answer (the table above).
    ///
    /// - Parameters:
    ///   - error: The error of the act.
    ///   - traceId: The request's trace id, named in the message of an internal error.
    ///   - retryAfterSeconds: The `Retry-After` of an `OverloadedError`.
    public init(_ error: HemeraError, traceId: String, retryAfterSeconds: Int = 1) {
        switch error.name {
        case .validation:
            self.init(status: 400, error)
        case .patternNotFound, "NotFound":
            self.init(status: 404, error)
        case .timeout:
            self.init(status: 504, error)
        case .noResponders:
            self.init(status: 503, error)
        case .overloaded:
            self.init(status: 503, error)
            self.retryAfterSeconds = retryAfterSeconds
        case let name where Self.internalNames.contains(name):
            self = .internalError(traceId: traceId)
        default:
            self.init(status: 500, error)
        }
    }

    private init(status: Int, _ error: HemeraError) {
        self.init(
            status: status,
            name: error.name.rawValue,
            message: error.message,
            code: error.code,
            details: error.details
        )
    }

    /// The answer to a failure whose text must not reach the caller.
    public static func internalError(traceId: String) -> GatewayError {
        GatewayError(
            status: 500,
            name: "InternalError",
            message: "The request failed inside the service (trace \(traceId))",
            code: "E_INTERNAL"
        )
    }

    /// The JSON body's bytes, its members in the order `name`, `message`, `code`, `details`.
    public var bodyBytes: [UInt8] {
        func text(_ value: JSONValue?) -> [UInt8] { (try? (value ?? .null).serialized()) ?? Array("null".utf8) }
        var bytes = Array(#"{"name":"#.utf8) + text(.string(name))
        bytes += Array(#","message":"#.utf8) + text(.string(message))
        bytes += Array(#","code":"#.utf8) + text(code)
        bytes += Array(#","details":"#.utf8) + text(details) + [UInt8(ascii: "}")]
        return bytes
    }

    /// The JSON body: `{"name", "message", "code", "details"}`.
    public var body: JSONValue {
        [
            "name": .string(name),
            "message": .string(message),
            "code": code ?? .null,
            "details": details ?? .null,
        ]
    }
}

extension GatewayError {
    /// A body that is not valid JSON (400, `E_INVALID_JSON`).
    static func invalidJSON(_ reason: String) -> GatewayError {
        GatewayError(
            status: 400,
            name: "InvalidBodyError",
            message: "The body is not valid JSON: \(reason)",
            code: "E_INVALID_JSON"
        )
    }

    /// A body that is valid JSON but not what the route takes (400).
    static func invalidBody(_ message: String, code: String) -> GatewayError {
        GatewayError(status: 400, name: "InvalidBodyError", message: message, code: .string(code))
    }

    /// A body larger than the gateway takes (413).
    static func tooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: 413,
            name: "PayloadTooLargeError",
            message: "The body is larger than \(limit) bytes",
            code: "E_PAYLOAD_TOO_LARGE"
        )
    }

    /// A body of a type other than JSON (415).
    static func unsupportedMediaType(_ type: String) -> GatewayError {
        GatewayError(
            status: 415,
            name: "UnsupportedMediaTypeError",
            message: "The body must be application/json, not \(type)",
            code: "E_UNSUPPORTED_MEDIA_TYPE"
        )
    }

    /// A path parameter that is not of its route's type: a 400 `ValidationError` with the same
    /// `details` shape as the services' own (`[{message, path, type}]`).
    static func invalidParameter(_ name: String, expected: GatewayRoute.ParameterType) -> GatewayError {
        let failure = ValidationFailure(field: name, message: "must be an integer", type: "number.base")
        return GatewayError(status: 400, failure.hemeraError)
    }

    /// No route has this path (404).
    static func routeNotFound(method: String, path: String) -> GatewayError {
        GatewayError(
            status: 404,
            name: "RouteNotFound",
            message: "No route for \(method) \(path)",
            code: "E_ROUTE_NOT_FOUND"
        )
    }

    /// A route has this path, but not this method (405).
    static func methodNotAllowed(method: String, path: String, allow: [String]) -> GatewayError {
        var error = GatewayError(
            status: 405,
            name: "MethodNotAllowed",
            message: "\(path) does not take \(method)",
            code: "E_METHOD_NOT_ALLOWED"
        )
        error.allow = allow
        return error
    }
}
