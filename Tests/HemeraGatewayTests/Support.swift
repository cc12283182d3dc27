import Foundation
import Hemera
import HemeraAppSupport
import HemeraDemoGateway
import HemeraDemoServices
import HemeraGateway
import HemeraLocks
import HemeraNATS
import HemeraTesting
import Logging
import Testing

/// Everything one gateway test runs against: a nats-server of its own, the demo services each on
/// its own connection, extra test actions on another, and the gateway serving HTTP on a free
/// loopback port, called through a real HTTP client.
struct GatewayEnvironment: Sendable {
    let server: NATSTestServer
    let services: [DemoService: Hemera]
    /// An instance for test actions (`probe` topic, etc.).
    let extra: Hemera
    let gateway: HemeraGateway
    let client: GatewayClient
    let baseURL: String
    /// Requests each service instance received, by topic (counted before validation).
    let received: RequestCounter
}

/// Counts requests reaching the services (a server interceptor's `onRequest`), and records
/// their trace ids.
///
/// A `PthreadLock`, not `Synchronization.Mutex`: ThreadSanitizer on Linux does not see through
/// `Mutex` and reported the counts' updates as races in `make test-tsan`.
final class RequestCounter: HemeraServerInterceptor, Sendable {
    private let state = PthreadLock<(counts: [String: Int], traces: [(topic: String, trace: HemeraTrace)])>(([:], []))

    func onRequest(_ context: HemeraContext) async throws {
        let topic = context.pattern["topic"]?.stringValue ?? context.subject
        let trace = context.trace
        state.withLock {
            $0.counts[topic, default: 0] += 1
            $0.traces.append((topic, trace))
        }
    }

    func count(_ topic: String) -> Int { state.withLock { $0.counts[topic] ?? 0 } }
    var total: Int { state.withLock { $0.counts.values.reduce(0, +) } }
    func traces(_ topic: String) -> [HemeraTrace] {
        state.withLock { $0.traces.filter { $0.topic == topic }.map(\.trace) }
    }
}

func quietOptions(app: String, interceptors: [any HemeraServerInterceptor] = []) -> HemeraOptions {
    HemeraOptions(app: app, logger: HemeraConnect.quietLogger(label: app), serverInterceptors: interceptors)
}

/// Runs `body` against a fresh nats-server, the four demo services, the test actions of
/// `addExtra`, and a gateway with the demo's routes and `options`; stops everything afterwards.
func withGateway<Result: Sendable>(
    options: (Logger) -> GatewayOptions = { DemoGateway.options(logger: $0) },
    routes: [GatewayRoute] = DemoGateway.routes,
    addExtra: (Hemera) throws -> Void = { _ in },
    _ body: (GatewayEnvironment) async throws -> Result
) async throws -> Result {
    try await withNATSServer { server in
        let counter = RequestCounter()
        var opened: [Hemera] = []
        var services: [DemoService: Hemera] = [:]
        do {
            for service in DemoService.allCases {
                let hemera = try await HemeraConnect.connect(
                    url: server.url,
                    options: quietOptions(app: service.rawValue, interceptors: [counter])
                )
                opened.append(hemera)
                services[service] = hemera
                try await DemoService.start([service], on: hemera)
            }
            let extra = try await HemeraConnect.connect(
                url: server.url,
                options: quietOptions(app: "test-extra", interceptors: [counter])
            )
            opened.append(extra)
            try addExtra(extra)
            try await extra.ready()
            let gatewayHemera = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "gateway"))
            opened.append(gatewayHemera)
            // The gateway's connection reached the server this test started.
            let connected = (gatewayHemera.transport as? NATSTransport)?.connection.connectedURL ?? ""
            #expect(connected.hasSuffix(":\(server.port)"))
            let logger = HemeraConnect.quietLogger(label: "gateway")
            let gateway = HemeraGateway(hemera: gatewayHemera, routes: routes, options: options(logger))
            let (ports, portSink) = AsyncStream<Int>.makeStream()
            let serving = Task { try await gateway.run(host: "127.0.0.1", port: 0) { portSink.yield($0) } }
            var port = 0
            for await listening in ports {
                port = listening
                break
            }
            let baseURL = "http://127.0.0.1:\(port)"
            let client = GatewayClient(baseURL: baseURL, maxConnections: 64)
            let environment = GatewayEnvironment(
                server: server,
                services: services,
                extra: extra,
                gateway: gateway,
                client: client,
                baseURL: baseURL,
                received: counter
            )
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await body(environment))
            } catch {
                result = .failure(error)
            }
            try await client.shutdown()
            serving.cancel()
            _ = await serving.result
            for hemera in opened { await hemera.close() }
            return try result.get()
        } catch {
            for hemera in opened { await hemera.close() }
            throw error
        }
    }
}

/// Parses a response body as JSON.
func json(_ response: GatewayClient.Response) throws -> JSONValue {
    try JSONValue(parsing: response.body)
}

/// Checks that `response` is an error body with exactly `name`, `message`, `code`, `details`.
func expectErrorBody(
    _ response: GatewayClient.Response,
    status: Int,
    name: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    let body = try json(response)
    #expect(body["name"]?.stringValue == name, "\(response.text)", sourceLocation: sourceLocation)
    #expect(
        Set(body.objectValue?.keys ?? [:].keys) == ["name", "message", "code", "details"],
        "\(response.text)",
        sourceLocation: sourceLocation
    )
    #expect(response.header("content-type") == "application/json", sourceLocation: sourceLocation)
}
