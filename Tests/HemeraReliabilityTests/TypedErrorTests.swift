import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

/// A transport whose every call fails with an error that is neither a `TransportError` nor a
/// `HemeraError`, as a NATS-level I/O error (`send error: 32`) once did.
struct FailingTransport: HemeraTransport {
    struct SocketError: Error {}
    func publish(to subject: String, payload: [UInt8], replyTo: String?) throws { throw SocketError() }
    func subscribe(
        to subject: String,
        queue: String?,
        onMessage: @escaping @Sendable (TransportMessage) -> Void
    ) throws -> any HemeraTransportSubscription { throw SocketError() }
    func request(to subject: String, payload: [UInt8], timeout: Duration) async throws -> TransportMessage {
        throw SocketError()
    }
    func requestMany(to subject: String, payload: [UInt8], timeout: Duration, maxReplies: Int?)
        -> AsyncThrowingStream<TransportMessage, any Error>
    {
        AsyncThrowingStream { $0.finish(throwing: SocketError()) }
    }
    func flush(timeout: Duration) async throws {}
    func close() async {}
}

extension Reliability {
    @Suite("act throws only HemeraError", .timeLimit(.minutes(2)))
    struct TypedErrorTests {
        @Test("A transport failure of any type reaches the caller as a HemeraError (act, typed act, publish, actMany)")
        func transportErrorsAreTyped() async throws {
            let hemera = Hemera(transport: FailingTransport(), options: hemeraOptions("typed"))
            await #expect(throws: HemeraError.self) { try await hemera.act(["topic": "math", "cmd": "add"]) }
            await #expect(throws: HemeraError.self) { let _: String = try await hemera.act(FlakyGet(id: "x")) }
            await #expect(throws: HemeraError.self) { try await hemera.publish(["topic": "math", "cmd": "add"]) }
            await #expect(throws: HemeraError.self) {
                for try await _ in try hemera.actMany(["topic": "math", "cmd": "add"]) {}
            }
        }

        @Test("Acts racing the connection's drain and close end in HemeraErrors")
        func natsErrorsAreTyped() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                try service.add(["topic": "echo", "cmd": "get"]) { pattern, _ in pattern["n"] ?? .null }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )
                let names = Counter()
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<4 {
                        group.addTask {
                            let clock = ContinuousClock()
                            let start = clock.now
                            var n = 0
                            while clock.now - start < .milliseconds(1500) {
                                n += 1
                                let (result, _) = await outcome {
                                    try await client.act(
                                        ["topic": "echo", "cmd": "get", "n": .integer(Int64(worker * 1000 + n))],
                                        timeout: .milliseconds(500)
                                    )
                                }
                                switch result {
                                case .success: names.add("ok")
                                case .failure(let name): names.add(name.rawValue)
                                }
                            }
                        }
                    }
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(100))
                        await client.close()
                        names.add("closed")
                    }
                }
                print("acts racing close: \(names.all)")
                #expect(names.all.keys.allSatisfy { !$0.hasPrefix("UntypedError") }, "\(names.all)")
                // Once closed, a call fails with the typed ClosedError.
                try await waitUntil { names["closed"] > 0 }
                let (after, _) = await outcome {
                    try await client.act(["topic": "echo", "cmd": "get"], timeout: .milliseconds(300))
                }
                #expect(after == .failure(.closed))
                await service.close()
            }
        }
    }
}
