import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

extension Reliability {
    @Suite("Stale work: a request whose caller gave up never starts", .timeLimit(.minutes(2)))
    struct StaleRequestTests {
        @Test("Acts made while the server is down fail at once (UnavailableError) and never run after the reconnect")
        func bufferedRequestsNeverRun() async throws {
            try await withNATSServer { server in
                let executed = Counter()
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                // Not idempotent: running it for a caller that gave up adds a product nobody sees.
                try service.add(["topic": "cart", "cmd": "addProduct"]) { pattern, _ in
                    executed.add(pattern["id"]?.stringValue ?? "?")
                    return true
                }
                try await service.ready()
                // The client comes back after the service, so anything it buffered meets the
                // service's restored subscription.
                var clientOptions = faultOptions([server.url], name: "cli")
                clientOptions.reconnectWait = .milliseconds(600)
                clientOptions.reconnectJitter = (.zero, .zero)
                let client = try await connectHemera(clientOptions, options: hemeraOptions("cli"))
                #expect(try await client.act(["topic": "cart", "cmd": "addProduct", "id": "warm"]) == true)

                server.stop()
                try await waitUntil { service.transportConnectionURL == nil && client.transportConnectionURL == nil }
                let failures = Counter()
                let clock = ContinuousClock()
                await withTaskGroup(of: Void.self) { group in
                    for n in 0..<40 {
                        group.addTask {
                            let started = clock.now
                            let (result, _) = await outcome {
                                try await client.act(
                                    ["topic": "cart", "cmd": "addProduct", "id": .string("down-\(n)")],
                                    timeout: .milliseconds(300)
                                )
                            }
                            if case .failure(let name) = result {
                                failures.add(name.rawValue)
                                failures.add("failed-\(n)")
                                // Failing fast: nothing to wait for while nothing can be sent.
                                #expect(clock.now - started < .milliseconds(250), "took \(clock.now - started)")
                            }
                        }
                    }
                }
                try await server.start()
                // Both connections are back and anything buffered has been delivered.
                try await waitUntil {
                    (try? await client.act(
                        ["topic": "cart", "cmd": "addProduct", "id": "probe"],
                        timeout: .milliseconds(300)
                    ))
                        == true
                }
                try await Task.sleep(for: .milliseconds(500))
                let ranAnyway = (0..<40).filter { failures["failed-\($0)"] > 0 && executed["down-\($0)"] > 0 }
                print(
                    "stale requests: failures \(failures.all.filter { !$0.key.hasPrefix("failed-") }), ran anyway: \(ranAnyway.count)"
                )
                #expect(failures[HemeraError.Name.unavailable.rawValue] == 40, "\(failures.all)")
                #expect(ranAnyway.isEmpty, "handlers ran for callers that had given up: \(ranAnyway)")
                await client.close()
                await service.close()
            }
        }

        @Test("A NATS-level request while reconnecting fails with .disconnected; opting in queues it")
        func natsRequestWhileReconnecting() async throws {
            try await withNATSServer { server in
                let connection = try await NATSConnection.connect(faultOptions([server.url], name: "cli"))
                server.stop()
                try await waitUntil { connection.connectedURL == nil }
                let error = await #expect(throws: NATSError.self) {
                    _ = try await connection.request(to: "nobody", payload: [], timeout: .milliseconds(500))
                }
                #expect(error?.code == .disconnected)
                await connection.close()

                var queued = faultOptions([server.url], name: "queued")
                queued.queuesRequestsWhileDisconnected = true
                try await server.start()
                let queuing = try await NATSConnection.connect(queued)
                server.stop()
                try await waitUntil { queuing.connectedURL == nil }
                let timedOut = await #expect(throws: NATSError.self) {
                    _ = try await queuing.request(to: "nobody", payload: [], timeout: .milliseconds(200))
                }
                #expect(timedOut?.code == .timeout)
                await queuing.close()
            }
        }
    }
}
