public import Hemera
public import HemeraJSON

/// One HTTP route of a ``HemeraGateway``: a method and a path that call one pattern with `act`.
///
/// The pattern sent is the route's fixed keys, plus each path parameter under its own name, plus
/// the members of the JSON body when the route takes one:
/// ```swift
/// let routes: [GatewayRoute] = [
///     .get("/products/{id}", act: "topic:products,cmd:get", parameters: ["id": .integer]),
///     .post("/cart", act: "topic:cart,cmd:addProduct", body: .object(required: true)),
/// ]
/// ```
public struct GatewayRoute: Sendable {
    /// The HTTP methods a route can answer.
    public enum Method: String, Sendable, CaseIterable {
        case get = "GET"
        case post = "POST"
        case put = "PUT"
        case patch = "PATCH"
        case delete = "DELETE"
    }

    /// How a path parameter's text becomes a value of the pattern.
    public enum ParameterType: String, Sendable {
        /// A base-10 integer that fits in 64 bits; other text is refused with a 400
        /// `ValidationError` before any service is called.
        case integer
        /// The text as it is (percent-decoded).
        case string
    }

    /// What the route reads from the request body.
    public enum Body: Sendable, Equatable {
        /// Nothing: a body, if sent, is not read.
        case none
        /// A JSON object whose members join the pattern. `required: false` takes an empty body as
        /// `{}`.
        case object(required: Bool)
    }

    /// The route's method.
    public var method: Method
    /// The path, with parameters in braces: `/products/{id}`.
    public var path: String
    /// The fixed keys of the pattern called (topic, cmd, …).
    public var pattern: [String: JSONValue]
    /// The type of each path parameter (``ParameterType/string`` when not listed).
    public var parameterTypes: [String: ParameterType]
    /// What the route reads from the body.
    public var body: Body
    /// One line for the OpenAPI document.
    public var summary: String
    /// Whether this is `POST /act/{topic}/{cmd}`, whose topic is checked before calling.
    var isGenericAct = false

    /// Creates a route.
    ///
    /// - Parameters:
    ///   - method: The HTTP method.
    ///   - path: The path, parameters in braces (`/users/{id}`).
    ///   - pattern: The fixed keys of the pattern called; control keys (ending in `$`) are dropped.
    ///   - parameters: The type of each path parameter.
    ///   - body: What the route reads from the body.
    ///   - summary: One line for the OpenAPI document.
    public init(
        _ method: Method,
        _ path: String,
        act pattern: Pattern,
        parameters: [String: ParameterType] = [:],
        body: Body = .none,
        summary: String = ""
    ) {
        self.method = method
        self.path = path
        self.pattern = pattern.keys
        self.parameterTypes = parameters
        self.body = body
        self.summary = summary
    }

    /// A `GET` route.
    public static func get(
        _ path: String,
        act pattern: Pattern,
        parameters: [String: ParameterType] = [:],
        summary: String = ""
    ) -> GatewayRoute {
        GatewayRoute(.get, path, act: pattern, parameters: parameters, summary: summary)
    }

    /// A `POST` route; by default it requires a JSON object body.
    public static func post(
        _ path: String,
        act pattern: Pattern,
        parameters: [String: ParameterType] = [:],
        body: Body = .object(required: true),
        summary: String = ""
    ) -> GatewayRoute {
        GatewayRoute(.post, path, act: pattern, parameters: parameters, body: body, summary: summary)
    }

    /// A `DELETE` route.
    public static func delete(
        _ path: String,
        act pattern: Pattern,
        parameters: [String: ParameterType] = [:],
        summary: String = ""
    ) -> GatewayRoute {
        GatewayRoute(.delete, path, act: pattern, parameters: parameters, summary: summary)
    }

    /// The names of the path's parameters, in order.
    public var parameterNames: [String] {
        segments.compactMap { segment in
            guard segment.first == "{", segment.last == "}" else { return nil }
            return String(segment.dropFirst().dropLast())
        }
    }

    /// The path's segments (`/products/{id}` → `products`, `{id}`).
    var segments: [Substring] { path.split(separator: "/", omittingEmptySubsequences: true) }

    /// Whether `requestPath` has this route's shape (parameters match any one segment).
    func matchesPath(_ requestPath: some StringProtocol) -> Bool {
        let parts = requestPath.split(separator: "/", omittingEmptySubsequences: true)
        let mine = segments
        guard parts.count == mine.count else { return false }
        for (part, segment) in zip(parts, mine) where !(segment.first == "{" && segment.last == "}") {
            if part != segment { return false }
        }
        return true
    }

    /// `topic_cmd`-style id of the route's operation (letters, digits and `_` only).
    var operationId: String {
        var parts: [String] = []
        if let topic = pattern["topic"]?.stringValue { parts.append(topic) }
        if let cmd = pattern["cmd"]?.stringValue { parts.append(cmd) }
        for key in pattern.keys.sorted() where key != "topic" && key != "cmd" {
            parts.append(key)
            if let value = pattern[key]?.stringValue { parts.append(value) }
        }
        let text = parts.joined(separator: "_")
        return String(text.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }
}
