import Foundation
import HemeraTesting
@testable import Hemera
import Testing
import HemeraLocks

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum TransportKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, nats
    var testDescription: String { rawValue }
}

/// The transports every end-to-end test runs on.
let allKinds: [TransportKind] = TransportKind.allCases

/// One test's world: a shared in-memory transport, or a real nats-server with one connection per
/// Hemera instance.
final class Env: Sendable {
    let kind: TransportKind
    let memory = InMemoryTransport()
    let server: NATSTestServer?
    private let instances = PthreadLock<[Hemera]>([])
    private let transports = PthreadLock<[any HemeraTransport]>([])

    private init(kind: TransportKind, server: NATSTestServer?) {
        self.kind = kind
        self.server = server
    }

    /// For `.nats`, starts `nats-server -a 127.0.0.1 -p -1` through HemeraTesting's runner.
    static func make(kind: TransportKind) async throws -> Env {
        guard kind == .nats else { return Env(kind: kind, server: nil) }
        let server = NATSTestServer()
        try await server.start()
        return Env(kind: kind, server: server)
    }

    func transport() async throws -> any HemeraTransport {
        switch kind {
        case .memory: return memory
        case .nats:
            let transport = try await makeNATSTransport(url: server!.url)
            transports.withLock { $0.append(transport) }
            return transport
        }
    }

    func hemera(app: String = "test-service", _ configure: (inout HemeraOptions) -> Void = { _ in }) async throws
        -> Hemera
    {
        var options = HemeraOptions(app: app)
        // Under a sanitizer (HEMERA_TEST_TIME_SCALE > 1) every step is several times slower: the
        // default act timeout grows with it, so a test that is not about timeouts does not fail
        // on one. Tests about timeouts set theirs in `configure` or per act, which this leaves.
        options.timeout = options.timeout.scaledForTests
        configure(&options)
        let hemera = Hemera(transport: try await transport(), options: options)
        instances.withLock { $0.append(hemera) }
        return hemera
    }

    func shutdown() async {
        for hemera in instances.withLock({ $0 }) { await hemera.close() }
        for transport in transports.withLock({ $0 }) { await transport.close() }
        server?.stop()
    }
}

func withEnv(_ kind: TransportKind, _ body: (Env) async throws -> Void) async throws {
    let env = try await Env.make(kind: kind)
    do {
        try await body(env)
    } catch {
        await env.shutdown()
        throw error
    }
    await env.shutdown()
}

/// Waits until `condition` holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(3), _ condition: @Sendable () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

/// Expects `body` to throw a `HemeraError`, and returns it.
func hemeraError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async
    -> HemeraError?
{
    do {
        try await body()
        Issue.record("expected a HemeraError, got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as HemeraError {
        return error
    } catch {
        Issue.record("expected a HemeraError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

final class Counter: Sendable {
    private let value = PthreadLock(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

final class Recorder: Sendable {
    private let items = PthreadLock<[String]>([])
    func append(_ item: String) { items.withLock { $0.append(item) } }
    var all: [String] { items.withLock { $0 } }
}
