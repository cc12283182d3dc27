import Hemera
import HemeraJSON
import HTTPTypes
import Hummingbird
import Logging

/// The trace of one HTTP request as the gateway sees it: the trace id (continued from the
/// request's `traceparent`, or new) and the gateway's own span, the parent of every act.
struct GatewaySpan: Sendable {
    var traceId: String
    var spanId: String
    var flags: UInt8

    /// The span of the request being answered (a new one outside any request).
    @TaskLocal static var current = GatewaySpan(
        traceId: TraceParent.randomTraceId(),
        spanId: TraceParent.randomSpanId(),
        flags: 1
    )

    /// The `traceresponse` header value (W3C Trace Context Level 2).
    var headerValue: String { TraceParent(traceId: traceId, parentId: spanId, flags: flags).description }
}

extension HTTPField.Name {
    /// `traceparent` (W3C Trace Context).
    static let traceparent = HTTPField.Name("traceparent")!
    /// `traceresponse` (W3C Trace Context Level 2): the trace id and the server's span.
    static let traceresponse = HTTPField.Name("traceresponse")!
}

/// Runs around every request: starts the gateway's span (continuing an incoming `traceparent`),
/// makes every act of the request part of it, answers the router's own failures (no such route,
/// wrong method) as JSON, and sets `traceresponse` on every response.
struct GatewayMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    let gateway: HemeraGateway

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // Two `traceparent` fields make the header invalid (the specification: start a new trace).
        let values = request.headers[values: .traceparent]
        let incoming = values.count == 1 ? TraceParent(header: values[0]) : nil
        let span = GatewaySpan(
            traceId: incoming?.traceId ?? TraceParent.randomTraceId(),
            spanId: TraceParent.randomSpanId(),
            flags: incoming?.flags ?? 1
        )
        var response: Response
        do {
            response = try await GatewaySpan.$current.withValue(span) {
                try await gateway.hemera.continuingTrace(traceId: span.traceId, spanId: span.spanId) {
                    try await next(request, context)
                }
            }
        } catch let error as any HTTPResponseError {
            response = gateway.answer(routerError(error.status, request), span: span)
        } catch {
            gateway.options.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            response = gateway.answer(.internalError(traceId: span.traceId), span: span)
        }
        response.headers[.traceresponse] = span.headerValue
        return response
    }

    /// The router's failures: 404 (or 405 when another method has the path), 413 from a body
    /// read elsewhere, others with their status.
    func routerError(_ status: HTTPResponse.Status, _ request: Request) -> GatewayError {
        let path = request.uri.path
        switch status {
        case .notFound:
            var methods = gateway.routes.filter { $0.matchesPath(path) }.map(\.method.rawValue)
            if path == "/openapi.json" { methods = ["GET"] }
            if !methods.isEmpty {
                return .methodNotAllowed(method: request.method.rawValue, path: path, allow: methods)
            }
            return .routeNotFound(method: request.method.rawValue, path: path)
        case .contentTooLarge:
            return .tooLarge(limit: gateway.options.maxBodyBytes)
        default:
            return GatewayError(
                status: status.code,
                name: "HTTPError",
                message: status.reasonPhrase,
                code: .string("E_HTTP_\(status.code)")
            )
        }
    }
}
