import HemeraNATS
import Testing

@testable import Hemera

@Suite("Reply executor (acts)")
struct HemeraReplyExecutorTests {
    @Test(arguments: allKinds) func actsPreferringTheReplyExecutor(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera(app: "math-service")
            try service.add(AddAction())
            // A nested act inside a handler, from a service on its own connection.
            try service.add(["topic": "math", "cmd": "double"]) { pattern, _ in
                let value = pattern["a"]?.integerValue ?? 0
                return .integer(Int64(try await service.act(Add(a: Int(value), b: Int(value)))))
            }
            let client = try await env.hemera(app: "client")
            guard kind == .nats else {
                #expect(client.replyExecutor == nil)  // only the NATS transport has one
                return
            }
            let executor = try #require(client.replyExecutor)
            try await withTaskExecutorPreference(executor) { () async throws -> Void in
                for index in 0..<100 {
                    #expect(try await client.act(Add(a: index, b: 1)) == index + 1)
                }
                #expect(try await client.act(["topic": "math", "cmd": "double", "a": 21]) == 42)
                // Errors travel as usual.
                _ = await #expect(throws: HemeraError.self) {
                    try await client.act(["topic": "math", "cmd": "missing"], timeout: .seconds(2))
                }
            }
        }
    }
}
