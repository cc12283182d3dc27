@testable import Hemera
import Testing

/// A server interceptor that changes nothing: its presence alone sends requests through the
/// general path (`run` + `sendReply`) instead of the plain one (`runPlain` + `publishReply`).
private struct PassThrough: HemeraServerInterceptor {}

/// A request with nothing around its handler takes the plain path; the same request with a server
/// interceptor, middleware or a concurrency limit takes the general one. Both must answer alike.
@Suite(.timeLimit(.minutes(1))) struct PlainPathTests {
    /// One service per path, each on its own topic; `plain` has nothing configured.
    private static func services(_ env: Env) async throws -> [(topic: String, hemera: Hemera)] {
        let plain = try await env.hemera(app: "plain")
        let intercepted = try await env.hemera(app: "intercepted") { $0.serverInterceptors = [PassThrough()] }
        let wrapped = try await env.hemera(app: "wrapped")
        let limited = try await env.hemera(app: "limited")
        let middleware = HemeraMiddleware { _, next in try await next() }
        let list: [(String, Hemera, AddOptions)] = [
            ("plain", plain, AddOptions()),
            ("intercepted", intercepted, AddOptions()),
            ("wrapped", wrapped, AddOptions(middleware: [middleware])),
            ("limited", limited, AddOptions(concurrencyLimit: 4)),
        ]
        for (topic, hemera, options) in list {
            try hemera.add(["topic": .string(topic), "cmd": "echo"], options: options) { pattern, _ in
                pattern["value"] ?? .null
            }
            try hemera.add(["topic": .string(topic), "cmd": "fail"], options: options) { _, _ in
                throw HemeraError(name: "Refused", message: "not today", code: "E_REFUSED")
            }
            try await hemera.ready()
        }
        return list.map { ($0.0, $0.1) }
    }

    @Test(arguments: allKinds) func resultsAndErrorsMatch(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let services = try await Self.services(env)
            let client = try await env.hemera(app: "client")
            for (topic, hemera) in services {
                let echoed = try await client.act(["topic": .string(topic), "cmd": "echo", "value": ["a": [1, "x"]]])
                #expect(echoed == ["a": [1, "x"]], "\(topic)")
                let error = await hemeraError { try await client.act(["topic": .string(topic), "cmd": "fail"]) }
                #expect(error?.name == "Refused", "\(topic)")
                #expect(error?.message == "not today", "\(topic)")
                #expect(error?.code == "E_REFUSED", "\(topic)")
                #expect(error?.hops.map(\.service) == [topic], "\(topic)")
                #expect(error?.hops.map(\.app) == [hemera.options.app], "\(topic)")
                #expect(error?.hops.map(\.method) == ["cmd:fail,topic:\(topic)"], "\(topic)")
                // The request stops counting just after its reply is published, on either path.
                #expect(await eventually { hemera.inFlightCount == 0 }, "\(topic)")
            }
        }
    }

    @Test func expiredDeadlineIsRefusedOnEveryPath() async throws {
        try await withEnv(.nats) { env in
            let services = try await Self.services(env)
            let client = try await env.hemera(app: "client")
            for (topic, hemera) in services {
                let request = try client.makeRequest(
                    ["topic": .string(topic), "cmd": "echo", "value": 1],
                    meta: [:],
                    delegate: [:],
                    timeout: nil
                )
                let (payload, _) = client.encodeRequest(request, type: .request)
                // A caller with no time left: the handler must not run.
                let reply = try await client.transport.request(
                    to: topic,
                    payload: payload,
                    headers: [HemeraHeaders.timeout: "0"],
                    timeout: .seconds(5)
                )
                let error = await hemeraError { _ = try Hemera.decodeReplyEnvelope(reply.payload) }
                #expect(error?.name == .deadlineExceeded, "\(topic)")
                #expect(error?.message == "The caller's deadline passed before the handler started", "\(topic)")
                #expect(error?.hops.map(\.app) == [hemera.options.app], "\(topic)")
                #expect(await eventually { hemera.inFlightCount == 0 }, "\(topic)")
            }
        }
    }
}
