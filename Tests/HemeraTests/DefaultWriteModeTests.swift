import Hemera
import HemeraTesting
import Testing

@testable import HemeraNATS

/// `Hemera.connect(url:)` opens its connection in the coalesced write mode (issue 12: acts under
/// load with the default settings), and `hemera bench` measures that default.
@Suite("Default write mode")
struct DefaultWriteModeTests {
    @Test("Hemera.connect opens a coalesced connection; acts in flight and lone acts are answered")
    func connectIsCoalesced() async throws {
        try await withNATSServer { server in
            let service = try await Hemera.connect(url: server.url, options: HemeraOptions(app: "svc"))
            try service.add(["topic": "dwm", "cmd": "echo"]) { pattern, _ in pattern["n"] ?? .null }
            try await service.ready(timeout: .seconds(5))
            let client = try await Hemera.connect(url: server.url, options: HemeraOptions(app: "client"))
            for hemera in [service, client] {
                let transport = try #require(hemera.transport as? NATSTransport)
                #expect(transport.connection.eventLoop != nil, "coalesced: the connection has its loop thread")
            }
            let results = try await withThrowingTaskGroup(of: Int64.self) { group in
                for n in 0..<64 {
                    group.addTask {
                        try await client.act(["topic": "dwm", "cmd": "echo", "n": .integer(Int64(n))]).integerValue
                            ?? -1
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.sorted() == (0..<64).map(Int64.init))
            let lone = try await client.act(["topic": "dwm", "cmd": "echo", "n": 7])
            #expect(lone == .integer(7))
            await client.close()
            await service.close()
        }
    }
}
