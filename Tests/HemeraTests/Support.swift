import Foundation
@testable import Hemera
import Testing

/// A nats-server started for one test: `nats-server -a 127.0.0.1 -p -1`, port read from its log.
final class NATSServerProcess: Sendable {
    let url: String
    private let process: Process

    init() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nats-server")
        process.arguments = ["-a", "127.0.0.1", "-p", "-1"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var log = ""
        let deadline = Date().addingTimeInterval(10)
        var port: String?
        while port == nil, Date() < deadline {
            let data = pipe.fileHandleForReading.availableData
            if data.isEmpty { break }
            log += String(decoding: data, as: UTF8.self)
            if let range = log.range(of: "Listening for client connections on 127.0.0.1:") {
                let rest = log[range.upperBound...]
                let digits = rest.prefix { $0.isNumber }
                if rest.dropFirst(digits.count).first != nil, !digits.isEmpty { port = String(digits) }
            }
        }
        guard let port else {
            process.terminate()
            throw TestFailure("nats-server did not start: \(log)")
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        pipe.fileHandleForReading.readabilityHandler = { handle in _ = handle.availableData }
        self.process = process
        self.url = "nats://127.0.0.1:\(port)"
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum TransportKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, nats
    var testDescription: String { rawValue }
}

/// The transports every end-to-end test runs on.
let allKinds: [TransportKind] = [.memory]

/// One test's world: a shared in-memory transport, or a real nats-server with one connection per
/// Hemera instance.
final class Env: Sendable {
    let kind: TransportKind
    let memory = InMemoryTransport()
    let server: NATSServerProcess?
    private let instances = LockedValue<[Hemera]>([])
    private let transports = LockedValue<[any HemeraTransport]>([])

    init(kind: TransportKind) throws {
        self.kind = kind
        server = kind == .nats ? try NATSServerProcess() : nil
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

    func hemera(app: String = "test-service", _ configure: (inout HemeraOptions) -> Void = { _ in }) async throws -> Hemera {
        var options = HemeraOptions(app: app)
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
    let env = try Env(kind: kind)
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
func hemeraError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> HemeraError? {
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
    private let value = LockedValue(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

final class Recorder: Sendable {
    private let items = LockedValue<[String]>([])
    func append(_ item: String) { items.withLock { $0.append(item) } }
    var all: [String] { items.withLock { $0 } }
}
