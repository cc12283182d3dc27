import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

extension Reliability {
    @Suite("Faults: restart, cluster failover, retries, deadlines, overload", .timeLimit(.minutes(2)))
    struct FaultTests {
        @Test("Server restart under load: every act ends typed, none hangs, subscriptions come back")
        func serverRestartUnderLoad() async throws {
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
                let timeout = Duration.milliseconds(400)
                let outcomes = Counter()
                let restarted = Counter()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<4 {
                        group.addTask {
                            var n = 0
                            while restarted["done"] == 0 || n < 10 {
                                n += 1
                                let (result, took) = await outcome {
                                    try await client.act(
                                        ["topic": "echo", "cmd": "get", "n": .integer(Int64(n))],
                                        timeout: timeout
                                    )
                                }
                                // Ends by its deadline (the slack is scaled for sanitizer runs).
                                #expect(
                                    took < timeout + Duration.seconds(1).scaledForTests,
                                    "act \(worker)/\(n) took \(took)"
                                )
                                switch result {
                                case .success: outcomes.add("ok")
                                case .failure(let name):
                                    outcomes.add(name.rawValue)
                                    #expect(
                                        [.timeout, .noResponders, .closed, .unavailable].contains(name),
                                        "untyped or unexpected: \(name)"
                                    )
                                }
                                if n > 2000 { break }
                                try await Task.sleep(for: .milliseconds(2))
                            }
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(500))
                        server.stop()
                        try await Task.sleep(for: .milliseconds(500))
                        try await server.restart()
                        // Wait until acts succeed again, then let the workers finish.
                        let clock = ContinuousClock()
                        let deadline = clock.now + .seconds(10)
                        while clock.now < deadline {
                            if (try? await client.act(
                                ["topic": "echo", "cmd": "get", "n": 0],
                                timeout: .milliseconds(300)
                            ))
                                != nil
                            {
                                break
                            }
                            try await Task.sleep(for: .milliseconds(50))
                        }
                        restarted.add("done")
                    }
                    try await group.waitForAll()
                }
                // After the reconnect the service's subscription is back without user code.
                for n in 0..<50 {
                    let value = try await client.act(["topic": "echo", "cmd": "get", "n": .integer(Int64(n))])
                    #expect(value == .integer(Int64(n)))
                }
                print("restart outcomes: \(outcomes.all)")
                #expect(outcomes["ok"] > 0)
                await client.close()
                await service.close()
            }
        }

        @Test("Cluster: kill the service's node under a steady stream; idempotent acts succeed >= 99.9%")
        func clusterKillFailover() async throws {
            try await withNATSCluster(size: 3) { cluster in
                let urls = cluster.urls
                // The service prefers node 0, the client node 2.
                let receptions = Counter()
                let service = try await connectHemera(faultOptions(urls, name: "svc"), options: hemeraOptions("svc"))
                try service.add(["topic": "stock", "cmd": "get"]) { pattern, _ in
                    receptions.add(pattern["id"]?.stringValue ?? "?")
                    return pattern["n"] ?? .null
                }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([urls[2], urls[1]], name: "cli"),
                    options: hemeraOptions("cli", retry: RetryPolicy(maxAttempts: 6, initialBackoff: .milliseconds(20)))
                )
                // Interest on node 2 for the service's subscription on node 0.
                try await waitUntil {
                    (try? await client.act(["topic": "stock", "cmd": "get", "id": "warm", "n": 0])) != nil
                }
                #expect(service.transportConnectionURL == urls[0])

                let idempotent = Counter()
                let plain = Counter()
                let killed = Counter()
                let clock = ContinuousClock()
                let streamLength = Duration.seconds(4)
                let start = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<3 {
                        group.addTask {
                            var n = 0
                            while clock.now - start < streamLength {
                                n += 1
                                let id = "i\(worker)-\(n)"
                                let (result, took) = await outcome {
                                    try await client.act(
                                        [
                                            "topic": "stock", "cmd": "get", "id": .string(id), "n": .integer(Int64(n)),
                                            "idempotent$": true,
                                        ],
                                        timeout: .seconds(3)
                                    )
                                }
                                // Its 3 s deadline holds across retries (the slack is scaled for sanitizer runs).
                                #expect(
                                    took < .seconds(3) + Duration.seconds(1).scaledForTests,
                                    "idempotent act \(id) took \(took)"
                                )
                                switch result {
                                case .success: idempotent.add("ok")
                                case .failure(let name): idempotent.add(name.rawValue)
                                }
                                try await Task.sleep(for: .milliseconds(2))
                            }
                        }
                    }
                    group.addTask {
                        var n = 0
                        while clock.now - start < streamLength {
                            n += 1
                            let id = "p-\(n)"
                            let (result, took) = await outcome {
                                try await client.act(
                                    ["topic": "stock", "cmd": "get", "id": .string(id), "n": .integer(Int64(n))],
                                    timeout: .milliseconds(800)
                                )
                            }
                            // Its 800 ms deadline holds (the slack is scaled for sanitizer runs).
                            #expect(
                                took < .milliseconds(800) + Duration.milliseconds(1200).scaledForTests,
                                "plain act \(id) took \(took)"
                            )
                            switch result {
                            case .success: plain.add("ok")
                            case .failure(let name):
                                plain.add(name.rawValue)
                                #expect([.timeout, .noResponders].contains(name), "unexpected \(name)")
                            }
                            try await Task.sleep(for: .milliseconds(2))
                        }
                        // No act that was not marked idempotent reached the service twice.
                        for m in 1...n { #expect(receptions["p-\(m)"] <= 1, "p-\(m) was sent again") }
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(1))
                        cluster.servers[0].kill()
                        killed.add("yes")
                    }
                    try await group.waitForAll()
                }
                #expect(killed["yes"] == 1)
                #expect(service.transportConnectionURL != urls[0])
                // After the move every act succeeds.
                for n in 0..<20 {
                    let value = try await client.act(
                        ["topic": "stock", "cmd": "get", "id": .string("after-\(n)"), "n": .integer(Int64(n))]
                    )
                    #expect(value == .integer(Int64(n)))
                }
                let total = idempotent.all.values.reduce(0, +)
                let ratio = Double(idempotent["ok"]) / Double(max(total, 1))
                let retried = receptions.all.filter { $0.key.hasPrefix("i") && $0.value > 1 }.count
                print(
                    "cluster kill: idempotent \(idempotent["ok"])/\(total) succeeded (ratio \(String(format: "%.5f", ratio))), "
                        + "\(retried) re-sent to the service; outcomes \(idempotent.all); non-idempotent outcomes \(plain.all)"
                )
                #expect(total > 100)
                #expect(ratio >= 0.999)
                await client.close()
                await service.close()
            }
        }

        @Test("Retries: an idempotent act is retried after an attempt's timeout, a plain act never")
        func retriesOnlyIdempotent() async throws {
            try await withNATSServer { server in
                let receptions = Counter()
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                try service.add(["topic": "flaky", "cmd": "get"]) { pattern, _ in
                    let id = pattern["id"]?.stringValue ?? "?"
                    receptions.add(id)
                    // The first reception of each id is too slow for one attempt.
                    if receptions[id] == 1 { try await Task.sleep(for: .milliseconds(600)) }
                    return .string(id)
                }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions(
                        "cli",
                        retry: RetryPolicy(maxAttempts: 3, attemptTimeout: .milliseconds(250))
                    )
                )
                let value = try await client.act(
                    ["topic": "flaky", "cmd": "get", "id": "a", "idempotent$": true],
                    timeout: .seconds(2)
                )
                #expect(value == "a")
                #expect(receptions["a"] == 2)
                // A typed pattern marked idempotent is retried too.
                let typed: String = try await client.act(FlakyGet(id: "c"), timeout: .seconds(2))
                #expect(typed == "c")
                #expect(receptions["c"] == 2)

                let error = await #expect(throws: HemeraError.self) {
                    try await client.act(["topic": "flaky", "cmd": "get", "id": "b"], timeout: .milliseconds(300))
                }
                #expect(error?.name == .timeout)
                try await Task.sleep(for: .milliseconds(700))
                #expect(receptions["b"] == 1)

                // No responders: retried with backoff within the deadline, then a typed error, in time.
                let clock = ContinuousClock()
                let start = clock.now
                let missing = await #expect(throws: HemeraError.self) {
                    try await client.act(
                        ["topic": "nobody", "cmd": "x", "idempotent$": true],
                        timeout: .milliseconds(500)
                    )
                }
                #expect(missing?.name == .noResponders)
                // The retries end at the 500 ms deadline (the slack is scaled for sanitizer runs).
                #expect(clock.now - start < .milliseconds(500) + Duration.milliseconds(400).scaledForTests)
                await client.close()
                await service.close()
            }
        }

        @Test("Deadline: the remaining time travels as a header; expired work is not started")
        func deadlinePropagation() async throws {
            try await withNATSServer { server in
                let starts = Counter()
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                var limited = AddOptions()
                limited.concurrencyLimit = 1
                try service.add(["topic": "slow", "cmd": "work"], options: limited) { _, _ in
                    starts.add("slow")
                    try await Task.sleep(for: .milliseconds(300))
                    return true
                }
                try service.add(["topic": "inner", "cmd": "remaining"]) { _, context in
                    guard let deadline = context.deadline else { return .null }
                    return .integer((deadline - .now).wholeMillisecondsForTest)
                }
                try service.add(["topic": "outer", "cmd": "nested"]) { _, context in
                    let own = (context.deadline.map { $0 - .now })?.wholeMillisecondsForTest ?? -1
                    // Asks for 10 s, gets at most what its caller has left.
                    let inner = try await context.hemera.act(
                        ["topic": "inner", "cmd": "remaining"],
                        timeout: .seconds(10)
                    )
                    return ["own": .integer(own), "inner": inner]
                }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )

                // The handler sees the caller's timeout less the time the request took to reach it (under
                // 500 ms; timeout and transit allowance are scaled together for sanitizer runs).
                let timeoutMS = Int64(1500 * testTimeScale)
                let transitMS = Int64(500 * testTimeScale)
                let nested = try await client.act(
                    ["topic": "outer", "cmd": "nested"],
                    timeout: .milliseconds(timeoutMS)
                )
                let own = nested["own"]?.integerValue ?? -1
                let inner = nested["inner"]?.integerValue ?? -1
                #expect(own > timeoutMS - transitMS && own <= timeoutMS, "own \(own)")
                #expect(inner > 0 && inner <= own, "inner \(inner) own \(own)")

                // Three callers that give up after 150 ms; the handler takes 300 ms, one at a time.
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 {
                        group.addTask {
                            _ = await outcome {
                                try await client.act(["topic": "slow", "cmd": "work"], timeout: .milliseconds(150))
                            }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(1200))
                #expect(starts["slow"] == 1, "handlers started for callers that had given up: \(starts["slow"] - 1)")

                // A message without headers (a Hemera 7 peer) works fully: no deadline.
                let raw = try await NATSConnection.connect(NATSOptions(url: server.url))
                let reply = try await raw.request(
                    to: "inner",
                    payload: Array(
                        #"{"pattern":{"topic":"inner","cmd":"remaining"},"meta":{},"request":{"id":"1","type":"request"},"trace":{}}"#
                            .utf8
                    ),
                    timeout: .seconds(2)
                )
                let text = String(decoding: reply.payload, as: UTF8.self)
                #expect(text.contains(#""result":null"#) && text.contains(#""error":null"#), "\(text)")
                await raw.close()
                await client.close()
                await service.close()
            }
        }

        @Test("Overload: a full action answers a fast, typed OverloadedError")
        func overload() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                var limited = AddOptions()
                limited.concurrencyLimit = 1
                limited.maxQueued = 1
                // The handler's time, the bound on an overloaded answer and the act timeout all scale
                // together on sanitizer runs, so the bound stays below the time a slot takes to free.
                let handlerTime = Duration.milliseconds(1500).scaledForTests
                try service.add(["topic": "busy", "cmd": "work"], options: limited) { _, _ in
                    try await Task.sleep(for: handlerTime)
                    return true
                }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )
                let results = Counter()
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 {
                        group.addTask {
                            let (result, took) = await outcome {
                                try await client.act(
                                    ["topic": "busy", "cmd": "work"],
                                    timeout: Duration.seconds(5).scaledForTests
                                )
                            }
                            switch result {
                            case .success: results.add("ok")
                            case .failure(let name):
                                results.add(name.rawValue)
                                // Answered at once, not after a running handler (1.5 s) freed a slot.
                                #expect(
                                    took < Duration.milliseconds(1000).scaledForTests,
                                    "an overloaded answer took \(took)"
                                )
                            }
                        }
                    }
                }
                #expect(results["ok"] == 2)
                #expect(results[HemeraError.Name.overloaded.rawValue] == 4, "\(results.all)")
                await client.close()
                await service.close()
            }
        }

        @Test("Slow consumer: a subscription over its pending limit is counted and logged")
        func slowConsumerSurfaced() async throws {
            try await withNATSServer { server in
                var natsOptions = faultOptions([server.url], name: "svc")
                natsOptions.maxPendingMessages = 20
                let connection = try await NATSConnection.connect(natsOptions, logger: quietLogger("svc"))
                let transport = NATSTransport(connection: connection)
                var options = hemeraOptions("svc")
                // A handler that hogs the delivery thread (CPU-bound work that never suspends): on
                // the delivery thread, as handlers start only when asked (on Swift's pool by default,
                // 500 of them would block the pool that every other test of the process shares).
                options.startsHandlersOnDeliveryThread = true
                options.serverInterceptors = [BlockingInterceptor()]
                let service = Hemera(transport: transport, options: options, closeTransport: true)
                try service.add(["topic": "events", "cmd": "tick", "pubsub$": true]) { _, _ in .null }
                try await service.ready()
                let publisher = try await NATSConnection.connect(NATSOptions(url: server.url))
                let message = Array(
                    #"{"pattern":{"topic":"events","cmd":"tick"},"meta":{},"request":{"type":"pubsub"}}"#.utf8
                )
                for _ in 0..<500 { try publisher.publish(to: "events", payload: message) }
                try await publisher.flush(timeout: .seconds(5))
                try await waitUntil(timeout: .seconds(10)) { transport.slowConsumerEvents > 0 }
                #expect(transport.slowConsumerEvents > 0)
                await publisher.close()
                await service.close(gracePeriod: .seconds(1))
            }
        }
    }
}

/// Blocks the delivery thread for 2 ms per request.
struct BlockingInterceptor: HemeraServerInterceptor {
    func onRequest(_ context: HemeraContext) async throws { usleep(2000) }
}

extension Hemera {
    /// The URL the NATS transport is connected to right now.
    var transportConnectionURL: String? { (transport as? NATSTransport)?.connection.connectedURL }
}

extension Duration {
    var wholeMillisecondsForTest: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func waitUntil(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// A typed pattern marked idempotent.
struct FlakyGet: HemeraPattern, HemeraIdempotentPattern {
    typealias Reply = String
    static let topic = "flaky"
    static let cmd: String? = "get"
    var id: String
}
