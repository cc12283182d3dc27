import Foundation
@testable import Hemera
import HemeraLocks
import Testing

/// Plain handlers run on recycled tasks (`HandlerWorkers`): a request goes to a parked worker when
/// there is one, else to a new one, so requests still run side by side; parked workers are bounded
/// and end with the instance's close, keeping nothing of it alive.
@Suite(.timeLimit(.minutes(1))) struct HandlerWorkersTests {
    /// A service whose `wait` handler suspends for `milliseconds`.
    private static func service(_ env: Env) async throws -> Hemera {
        let transport = try await env.transport()
        let service = Hemera(transport: transport, options: HemeraOptions(app: "workers"))
        try service.add(["topic": "workers", "cmd": "wait"]) { pattern, _ in
            let milliseconds = pattern["ms"]?.integerValue ?? 0
            try await Task.sleep(for: .milliseconds(milliseconds))
            return .integer(milliseconds)
        }
        try await service.ready()
        return service
    }

    @Test func workersAreReusedAndRequestsStillRunSideBySide() async throws {
        try await withEnv(.nats) { env in
            let service = try await Self.service(env)
            let client = try await env.hemera(app: "client")
            // Eight requests of 1 s at once: side by side they take about 1 s, one after the other 8 s.
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        _ = try await client.act(["topic": "workers", "cmd": "wait", "ms": 1000], timeout: .seconds(20))
                    }
                }
                try await group.waitForAll()
            }
            #expect(ContinuousClock.now - start < .seconds(4))
            // Each worker parks after its request: eight are waiting.
            #expect(await eventually { service.handlerWorkers.parkedCount == 8 })
            // One request at a time reuses a parked worker: no new ones.
            for _ in 0..<20 { _ = try await client.act(["topic": "workers", "cmd": "wait", "ms": 0]) }
            #expect(await eventually { service.handlerWorkers.parkedCount == 8 })
            await service.close()
        }
    }

    @Test func parkedWorkersAreBounded() async throws {
        try await withEnv(.nats) { env in
            let service = try await Self.service(env)
            let client = try await env.hemera(app: "client")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<200 {
                    group.addTask { _ = try await client.act(["topic": "workers", "cmd": "wait", "ms": 400]) }
                }
                try await group.waitForAll()
            }
            #expect(await eventually { service.handlerWorkers.parkedCount == HandlerWorkers.maxParked })
            await service.close()
        }
    }

    @Test func closeEndsParkedWorkersAndReleasesTheInstance() async throws {
        try await withEnv(.nats) { env in
            var released: WeakHemera?
            do {
                let service = try await Self.service(env)
                released = WeakHemera(service)
                let client = try await env.hemera(app: "client")
                for _ in 0..<5 { _ = try await client.act(["topic": "workers", "cmd": "wait", "ms": 0]) }
                #expect(await eventually { service.handlerWorkers.parkedCount >= 1 })
                await service.close()
                #expect(service.handlerWorkers.parkedCount == 0)
                // A request after the close would get a task of its own; none is parked.
            }
            // Parked workers hold the pool weakly and no finished request: the instance goes.
            let watched = try #require(released)
            #expect(await eventually { watched.value == nil })
        }
    }
}

/// A weak reference to an instance (a `weak let`, so it is `Sendable`).
final class WeakHemera: Sendable {
    weak let value: Hemera?
    init(_ value: Hemera) { self.value = value }
}
