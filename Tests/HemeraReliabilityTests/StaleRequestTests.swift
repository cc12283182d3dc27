import Foundation
import Hemera
import HemeraLocks
@testable import HemeraNATS
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

        @Test("An act published in the instant cnats notices the disconnect fails at once and never runs later")
        func actRacingTheDisconnectNeverRuns() async throws {
            try await withNATSServer { server in
                let executed = Counter()
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                try service.add(["topic": "cart", "cmd": "addProduct"]) { pattern, _ in
                    executed.add(pattern["id"]?.stringValue ?? "?")
                    return true
                }
                try await service.ready()
                // The race, made certain: between the client's connection check and its publish,
                // the server goes away and the test waits until cnats noticed (reconnecting).
                let armed = PthreadLock(false)
                let fired = Counter()
                let clientConnection = PthreadLock<NATSConnection?>(nil)
                var clientOptions = faultOptions([server.url], name: "cli")
                // Back after the service, so anything buffered would meet its restored subscription.
                clientOptions.reconnectWait = .milliseconds(600)
                clientOptions.reconnectJitter = (.zero, .zero)
                clientOptions.requestWillPublishForTesting = {
                    guard
                        armed.withLock({ armed in
                            defer { armed = false }; return armed
                        })
                    else { return }
                    server.stop()
                    let clock = ContinuousClock()
                    let deadline = clock.now + .seconds(5)
                    while clientConnection.withLock({ $0 })?.isConnected == true && clock.now < deadline {
                        usleep(1_000)
                    }
                    if clientConnection.withLock({ $0 })?.isConnected == false { fired.add("disconnected") }
                }
                let connection = try await NATSConnection.connect(clientOptions, logger: quietLogger("cli"))
                clientConnection.withLock { $0 = connection }
                let client = Hemera(
                    transport: NATSTransport(connection: connection),
                    options: hemeraOptions("cli", retry: nil),
                    closeTransport: true
                )
                #expect(try await client.act(["topic": "cart", "cmd": "addProduct", "id": "warm"]) == true)

                armed.withLock { $0 = true }
                let (result, elapsed) = await outcome {
                    try await client.act(
                        ["topic": "cart", "cmd": "addProduct", "id": "racing"],
                        timeout: .milliseconds(800)
                    )
                }
                #expect(fired["disconnected"] == 1, "the hook did not see the disconnect")
                #expect(result == .failure(.unavailable), "\(result)")
                #expect(elapsed < .milliseconds(700), "took \(elapsed): it waited instead of failing at once")

                try await server.start()
                try await waitUntil {
                    (try? await client.act(
                        ["topic": "cart", "cmd": "addProduct", "id": "probe"],
                        timeout: .milliseconds(300)
                    ))
                        == true
                }
                try await Task.sleep(for: .milliseconds(500))
                #expect(executed["racing"] == 0, "the refused request ran after the reconnect")
                await client.close()
                await service.close()
            }
        }

        @Test("A reply finished while the service reconnects still reaches its waiting caller, once")
        func replyDuringReconnectIsDelivered() async throws {
            try await withNATSServer { server in
                let started = Counter()
                let finish = PthreadLock(false)
                var serviceOptions = faultOptions([server.url], name: "svc")
                // Back after the client, whose reply subscription must be restored first.
                serviceOptions.reconnectWait = .milliseconds(600)
                serviceOptions.reconnectJitter = (.zero, .zero)
                let serviceConnection = try await NATSConnection.connect(serviceOptions, logger: quietLogger("svc"))
                let service = Hemera(
                    transport: NATSTransport(connection: serviceConnection),
                    options: hemeraOptions("svc"),
                    closeTransport: true
                )
                try service.add(["topic": "slow", "cmd": "work"]) { _, _ in
                    started.add("n")
                    while !finish.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
                    return "done"
                }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli", retry: nil)
                )
                async let reply = outcome {
                    try await client.act(["topic": "slow", "cmd": "work"], timeout: .seconds(15))
                }
                try await waitUntil { started["n"] == 1 }
                server.stop()
                try await waitUntil { !serviceConnection.isConnected && client.transportConnectionURL == nil }
                // The handler ends while the service is disconnected: cnats refuses the reply (its
                // reconnect buffer is off) and the connection keeps it.
                finish.withLock { $0 = true }
                try await waitUntil { serviceConnection.heldPublishCount == 1 }
                #expect(serviceConnection.heldPublishCount == 1, "the reply was not held for the reconnect")
                try await server.start()
                let (result, _) = await reply
                #expect(result == .success, "\(result)")
                #expect(serviceConnection.heldPublishCount == 0)
                #expect(started["n"] == 1)
                await client.close()
                await service.close()
            }
        }

        @Test("Plain publishes while reconnecting are kept within reconnectBufferSize and arrive in order")
        func publishesWhileReconnectingArriveInOrder() async throws {
            try await withNATSServer { server in
                let received = PthreadLock<[String]>([])
                let subscriber = try await NATSConnection.connect(faultOptions([server.url], name: "sub"))
                let subscription = try subscriber.subscribe(to: "events.>") { message in
                    received.withLock { $0.append(String(decoding: message.payload, as: UTF8.self)) }
                }
                try await subscriber.flush(timeout: .seconds(2))
                var options = faultOptions([server.url], name: "pub")
                options.reconnectBufferSize = 1_000
                // Back after the subscriber, whose subscription must be restored first.
                options.reconnectWait = .milliseconds(600)
                options.reconnectJitter = (.zero, .zero)
                let publisher = try await NATSConnection.connect(options)
                server.stop()
                try await waitUntil { !publisher.isConnected && !subscriber.isConnected }
                let body = String(repeating: "x", count: 90)
                for n in 0..<5 {
                    try publisher.publish(to: "events.\(n)", payload: Array("\(n)\(body)".utf8))
                }
                #expect(publisher.heldPublishCount == 5)
                // Past the budget: a typed error, nothing kept.
                let error = #expect(throws: NATSError.self) {
                    try publisher.publish(to: "events.big", payload: Array(repeating: 0x61, count: 1_000))
                }
                #expect(error?.code == .disconnected)
                #expect(publisher.heldPublishCount == 5)
                try await server.start()
                try await waitUntil { received.withLock { $0.count } >= 5 }
                try await Task.sleep(for: .milliseconds(200))
                #expect(received.withLock { $0.map { String($0.prefix(1)) } } == ["0", "1", "2", "3", "4"])
                #expect(publisher.heldPublishCount == 0)
                try subscription.unsubscribe()
                await publisher.close()
                await subscriber.close()
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
