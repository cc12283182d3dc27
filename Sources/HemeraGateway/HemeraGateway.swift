public import Hemera
import HemeraJSON
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// An HTTP API in front of Hemera services: each route calls one pattern with `act`, built on
/// Hummingbird 2.
///
/// - A route's pattern is its fixed keys, its path parameters and the members of its JSON body
///   (``GatewayRoute``); `POST /act/{topic}/{cmd}` takes any pattern, its body being the rest.
/// - Errors become statuses with a JSON body `{name, message, code, details}` (``GatewayError``).
/// - A body that is not JSON, not an object, too large or of another media type is answered
///   400, 413 or 415 and never reaches a service.
/// - An incoming W3C `traceparent` is continued by every act of the request; the response's
///   `traceresponse` header names the trace and the gateway's span.
/// - `GET /openapi.json` is an OpenAPI 3.1 document of the routes, with each action's request
///   schema as the services publish it in `$SRV.INFO`.
///
/// ```swift
/// let gateway = HemeraGateway(hemera: hemera, routes: [
///     .get("/products/{id}", act: "topic:products,cmd:get", parameters: ["id": .integer]),
/// ])
/// try await gateway.run(host: "127.0.0.1", port: 8080)
/// ```
public final class HemeraGateway: Sendable {
    /// The instance the acts go through.
    public let hemera: Hemera
    /// The routes, in the order given, then `POST /act/{topic}/{cmd}` when served.
    public let routes: [GatewayRoute]
    /// The options.
    public let options: GatewayOptions
    /// The request schemas found in `$SRV.INFO`.
    let catalog: SchemaCatalog

    /// Creates a gateway; nothing listens until ``run(host:port:onListening:)``.
    ///
    /// - Parameters:
    ///   - hemera: The instance every act goes through.
    ///   - routes: The routes; `POST /act/{topic}/{cmd}` is added when
    ///     ``GatewayOptions/servesGenericAct`` is set.
    ///   - options: Limits, timeouts and the document's title.
    public init(hemera: Hemera, routes: [GatewayRoute], options: GatewayOptions = GatewayOptions()) {
        self.hemera = hemera
        var all = routes
        if options.servesGenericAct {
            var generic = GatewayRoute.post(
                "/act/{topic}/{cmd}",
                act: Pattern([:]),
                body: .object(required: false),
                summary: "Calls {topic, cmd} with the body's members as the rest of the pattern"
            )
            generic.isGenericAct = true
            all.append(generic)
        }
        self.routes = all
        self.options = options
        self.catalog = SchemaCatalog()
    }

    /// The Hummingbird router of the gateway: every route, `GET /openapi.json`, and the
    /// middleware that continues traces and answers unknown routes in JSON.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: GatewayMiddleware(gateway: self))
        for route in routes {
            router.on(RouterPath(stringLiteral: route.path), method: route.method.http) { request, context in
                await self.respond(route, request: request, context: context)
            }
        }
        router.get("/openapi.json") { _, _ in
            await self.catalog.refreshIfStale(on: self.hemera, timeout: self.options.discoveryTimeout)
            return Self.jsonResponse(status: .ok, self.openAPIDocument())
        }
        return router
    }

    /// Serves HTTP on `host:port` until the task is cancelled, or until SIGTERM or SIGINT when
    /// `handlesSignals` is set; then stops accepting connections, finishes the requests in flight
    /// and returns. The Hemera instance stays open: close it afterwards.
    ///
    /// - Parameters:
    ///   - host: The address to listen on; `127.0.0.1` by default.
    ///   - port: The port; 0 picks a free one, reported to `onListening`.
    ///   - handlesSignals: Whether SIGTERM and SIGINT shut the server down gracefully.
    ///   - onListening: Called once with the port the server listens on.
    /// - Throws: When the address cannot be bound.
    public func run(
        host: String = "127.0.0.1",
        port: Int,
        handlesSignals: Bool = false,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        await catalog.refresh(on: hemera, timeout: options.discoveryTimeout)
        let app = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: options.logger
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [app],
                gracefulShutdownSignals: handlesSignals ? [.sigterm, .sigint] : [],
                logger: options.logger
            )
        )
        // Cancelling the caller's task is a graceful shutdown, not an abort of the requests in
        // flight: the group runs in a task of its own, which the cancellation does not reach.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    // MARK: - One request

    /// Answers one request of `route`: builds the pattern, acts, and maps the outcome.
    func respond(_ route: GatewayRoute, request: Request, context: BasicRequestContext) async -> Response {
        let span = GatewaySpan.current
        do {
            let members = try await pattern(for: route, request: request, context: context)
            let result = try await hemera.act(Pattern(members), timeout: options.timeout)
            return Self.jsonResponse(status: .ok, result)
        } catch let error as GatewayError {
            return answer(error, span: span)
        } catch let error as HemeraError {
            let mapped = GatewayError(
                error,
                traceId: span.traceId,
                retryAfterSeconds: options.overloadRetryAfterSeconds
            )
            // Internal failures are errors of the system; timeouts and refusals are warnings.
            if mapped.status >= 500 {
                options.logger.log(
                    level: mapped.status == 500 ? .error : .warning,
                    "\(route.method.rawValue) \(request.uri.path) failed: \(error)",
                    metadata: ["trace_id": "\(span.traceId)"]
                )
            }
            return answer(mapped, span: span)
        } catch {
            options.logger.error(
                "\(route.method.rawValue) \(request.uri.path) failed: \(error)",
                metadata: ["trace_id": "\(span.traceId)"]
            )
            return answer(.internalError(traceId: span.traceId), span: span)
        }
    }

    /// The pattern of one request: the route's fixed keys, its path parameters, its body.
    ///
    /// - Throws: ``GatewayError`` for a parameter or body the route does not take.
    func pattern(
        for route: GatewayRoute,
        request: Request,
        context: BasicRequestContext
    ) async throws -> [String: JSONValue] {
        var members = route.pattern
        for name in route.parameterNames {
            let text = context.parameters.get(name) ?? ""
            switch route.parameterTypes[name] ?? .string {
            case .integer:
                guard let value = Int64(text) else { throw GatewayError.invalidParameter(name, expected: .integer) }
                members[name] = .integer(value)
            case .string:
                members[name] = .string(text)
            }
        }
        if route.isGenericAct {
            let topic = members["topic"]?.stringValue ?? ""
            guard isCallable(topic: topic) else {
                throw GatewayError.routeNotFound(method: route.method.rawValue, path: request.uri.path)
            }
        }
        guard case .object(let required) = route.body else { return members }
        let body = try await readBody(request, required: required)
        for (key, value) in body {
            if key.hasSuffix("$") {
                throw GatewayError.invalidBody(
                    "The body may not hold control keys (ending in $): \(key)",
                    code: "E_CONTROL_KEY"
                )
            }
            if members[key] != nil {
                throw GatewayError.invalidBody(
                    "The body may not set \(key): the route sets it",
                    code: "E_RESERVED_KEY"
                )
            }
            members[key] = value
        }
        return members
    }

    /// Whether `POST /act/{topic}/{cmd}` may call `topic`: listed in ``GatewayOptions/actTopics``
    /// when set, else made of letters, digits, `-`, `_` and inner dots, never a `$…` or `_INBOX…`
    /// subject.
    func isCallable(topic: String) -> Bool {
        if let allowed = options.actTopics { return allowed.contains(topic) }
        guard !topic.isEmpty, !topic.hasPrefix("_INBOX"), topic.first != ".", topic.last != ".",
            !topic.contains("..")
        else { return false }
        return topic.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    /// Reads the body as a JSON object, within ``GatewayOptions/maxBodyBytes``.
    func readBody(_ request: Request, required: Bool) async throws -> [String: JSONValue] {
        if let type = request.headers[.contentType], !Self.isJSONMediaType(type) {
            throw GatewayError.unsupportedMediaType(type)
        }
        let limit = options.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw GatewayError.tooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw GatewayError.tooLarge(limit: limit)
        }
        let bytes = Array(buffer.readableBytesView)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            if required {
                throw GatewayError.invalidBody("The route takes a JSON object body", code: "E_BODY_REQUIRED")
            }
            return [:]
        }
        let value: JSONValue
        do {
            value = try JSONValue(parsing: bytes)
        } catch {
            throw GatewayError.invalidJSON(Self.describe(error))
        }
        guard case .object(let members) = value else {
            throw GatewayError.invalidBody("The body must be a JSON object", code: "E_BODY_NOT_OBJECT")
        }
        return members
    }

    /// `application/json` or any `+json` type, parameters (`; charset=utf-8`) aside.
    static func isJSONMediaType(_ value: String) -> Bool {
        let type = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters() } ?? ""
        let lower = type.lowercased()
        return lower == "application/json" || (lower.hasPrefix("application/") && lower.hasSuffix("+json"))
    }

    /// A parse error in a sentence: the syntax error's own text, never a Swift type dump.
    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error { return context.debugDescription }
        return "malformed JSON"
    }

    // MARK: - Responses

    /// The response of an error, with `Retry-After` when it has one.
    func answer(_ error: GatewayError, span: GatewaySpan) -> Response {
        var response = Self.jsonResponse(status: HTTPResponse.Status(code: error.status), bytes: error.bodyBytes)
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        if !error.allow.isEmpty { response.headers[.allow] = error.allow.joined(separator: ", ") }
        return response
    }

    /// A JSON response.
    static func jsonResponse(status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        // `serialized()` fails only for a NaN or infinite double, which no parsed reply holds.
        jsonResponse(status: status, bytes: (try? value.serialized()) ?? Array("null".utf8))
    }

    /// A response whose body is `bytes` of JSON.
    static func jsonResponse(status: HTTPResponse.Status, bytes: [UInt8]) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}

extension GatewayRoute.Method {
    var http: HTTPRequest.Method {
        switch self {
        case .get: .get
        case .post: .post
        case .put: .put
        case .patch: .patch
        case .delete: .delete
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var view = self
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }
}
