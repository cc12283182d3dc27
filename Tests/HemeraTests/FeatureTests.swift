@testable import Hemera
import Testing
import HemeraLocks
import HemeraTesting

@Suite(.timeLimit(.minutes(1))) struct ValidationTests {
    @Test(arguments: allKinds) func strictValidationNamesFieldAndReason(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let reached = Counter()
            try service.add(Add.self) { request, _ in
                reached.increment()
                return request.a + request.b
            }
            let client = try await env.hemera()
            let error = await hemeraError {
                try await client.act(["topic": "math", "cmd": "add", "a": "Hello", "b": 2])
            }
            #expect(error?.name == .validation)
            #expect(error?.message == #"a: expected a number, found the string "Hello""#)
            let details = try #require(error?.details?.arrayValue)
            #expect(details.count == 1)
            #expect(details.first?["message"] == #"a: expected a number, found the string "Hello""#)
            #expect(details.first?["path"] == ["a"])
            #expect(details.first?["type"] == "number.base")
            // Strict: a numeric string is an error too.
            let strict = await hemeraError { try await client.act(["topic": "math", "cmd": "add", "a": "9", "b": 2]) }
            #expect(strict?.name == .validation)
            let missing = await hemeraError { try await client.act(["topic": "math", "cmd": "add", "a": 1]) }
            #expect(missing?.details?[0]?["type"] == "any.required")
            #expect(missing?.details?[0]?["path"] == ["b"])
            #expect(reached.count == 0)
        }
    }

    @Test(arguments: allKinds) func coercionModeConvertsNumericStrings(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(Divide.self, options: AddOptions(validation: .coerce)) { request, _ in request.a / request.b
            }
            let client = try await env.hemera()
            #expect(try await client.act(["topic": "calc", "cmd": "div", "a": "9", "b": 3]) == 3)
            let notNumber = await hemeraError {
                try await client.act(["topic": "calc", "cmd": "div", "a": "nine", "b": 3])
            }
            #expect(notNumber?.name == .validation)
            let zero = await hemeraError { try await client.act(Divide(a: 1, b: 0)) }
            #expect(zero?.name == .validation)
            #expect(zero?.details?[0]?["type"] == "any.invalid")
            #expect(zero?.details?[0]?["path"] == ["b"])
        }
    }

    @Test(arguments: allKinds) func declarativeRulesReportEveryFailure(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(AddProduct.self) { request, _ in request.quantity }
            let client = try await env.hemera()
            #expect(try await client.act(AddProduct(productId: 1, quantity: 5)) == 5)
            let error = await hemeraError { try await client.act(AddProduct(productId: -1, quantity: 6)) }
            #expect(error?.name == .validation)
            let details = try #require(error?.details?.arrayValue)
            #expect(details.map { $0["path"] } == [["productId"], ["quantity"]])
            #expect(details.map { $0["type"] } == ["number.min", "number.max"])
            #expect(details[1]["message"] == "quantity: must be less than or equal to 5")
        }
    }

    @Test func otherRules() throws {
        struct User: HemeraValidatable {
            var name: String
            var role: String
            static let rules: [ValidationRule<User>] = [
                .length("name", \.name, 2...5), .pattern("name", \.name, regex: "^[a-z]+$"),
                .oneOf("role", \.role, ["admin", "user"]),
            ]
        }
        // The library's own validation (what `add` runs), not a copy of its loop.
        #expect(throws: Never.self) { try User(name: "bob", role: "admin").runValidation() }
        do {
            try User(name: "B", role: "root").runValidation()
            Issue.record("expected a failure")
        } catch {
            #expect(error.issues.map(\.type) == ["string.min", "string.regex.base", "any.allowOnly"])
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct TransportOptionTests {
    @Test(arguments: allKinds) func pubsubFireAndForgetAndBroadcast(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let received = Counter()
            var services: [Hemera] = []
            for _ in 0..<2 {
                let service = try await env.hemera()
                try service.add(["topic": "events", "cmd": "log", "pubsub$": true]) { pattern, context in
                    #expect(context.request.type == .pubsub)
                    #expect(context.replyTo == nil)
                    received.increment()
                    return .null
                }
                services.append(service)
            }
            let client = try await env.hemera()
            if kind == .nats { try await client.transport.flush(timeout: .seconds(1)) }
            for service in services { try await service.transport.flush(timeout: .seconds(1)) }
            try await client.publish("topic:events,cmd:log,msg:hello")
            #expect(try await client.act(["topic": "events", "cmd": "log", "pubsub$": true]) == nil)
            #expect(await eventually { received.count == 4 })
        }
    }

    @Test(arguments: allKinds) func queueGroupsSplitLoadAndCustomGroupsBothGet(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let first = Counter()
            let second = Counter()
            for counter in [first, second] {
                let service = try await env.hemera()
                try service.add("topic:work,cmd:do") { _, _ in
                    counter.increment()
                    return true
                }
                try await service.transport.flush(timeout: .seconds(1))
            }
            let client = try await env.hemera()
            for _ in 0..<40 { _ = try await client.act("topic:work,cmd:do") }
            #expect(first.count + second.count == 40)
            #expect(first.count < 40 && second.count < 40)

            // Different custom queue groups: each group gets every message.
            let groupA = Counter()
            let groupB = Counter()
            for (counter, queue) in [(groupA, "a"), (groupB, "b")] {
                let service = try await env.hemera()
                try service.add(["topic": "audit", "cmd": "do", "queue$": .string(queue)]) { _, _ in
                    counter.increment()
                    return true
                }
                try await service.transport.flush(timeout: .seconds(1))
            }
            for _ in 0..<5 { try await client.publish("topic:audit,cmd:do") }
            #expect(await eventually { groupA.count == 5 && groupB.count == 5 })

            // The same custom group on two instances: they split the load.
            let sharedA = Counter()
            let sharedB = Counter()
            for counter in [sharedA, sharedB] {
                let service = try await env.hemera()
                try service.add("topic:jobs,cmd:run", options: AddOptions(queue: "workers")) { _, _ in
                    counter.increment()
                    return true
                }
                try await service.ready()
            }
            for _ in 0..<20 { _ = try await client.act("topic:jobs,cmd:run") }
            #expect(sharedA.count + sharedB.count == 20)
            #expect(sharedA.count > 0 && sharedB.count > 0)
        }
    }

    @Test(arguments: allKinds) func autoRemoveAfterN(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(["topic": "once", "cmd": "x", "maxMessages$": 2]) { _, _ in true }
            try service.add("topic:once,cmd:y") { _, _ in "y" }
            let client = try await env.hemera()
            #expect(try await client.act("topic:once,cmd:x") == true)
            #expect(try await client.act("topic:once,cmd:x") == true)
            let error = await hemeraError { try await client.act("topic:once,cmd:x") }
            #expect(error?.name == .patternNotFound)
            #expect(service.actions.count == 1)
            #expect(try await client.act("topic:once,cmd:y") == "y")
        }
    }

    @Test(arguments: allKinds) func streamingRepliesAndExpectedMessages(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.addStreaming(Count.self) { request, _, writer in
                for index in 1...request.n { try await writer.send(index) }
            }
            let client = try await env.hemera()
            var values: [Int] = []
            for try await value in try client.actMany(Count(n: 3), maxMessages: 3) { values.append(value) }
            #expect(values == [1, 2, 3])
            var exact: [Int] = []
            for try await value in try client.actMany(Count(n: 3), timeout: .seconds(2), expectedMessages: 3) {
                exact.append(value)
            }
            #expect(exact == [1, 2, 3])
            // Fewer replies than expected within the timeout is an error.
            var partial: [Int] = []
            let error = await hemeraError {
                for try await value in try client.actMany(Count(n: 2), timeout: .milliseconds(300), expectedMessages: 3)
                {
                    partial.append(value)
                }
            }
            #expect(partial == [1, 2])
            #expect(error?.name == .expectedMessages)
            // Untyped, with the `$` options in the pattern.
            var untyped: [JSONValue] = []
            for try await value in try client.actMany(["topic": "math", "cmd": "count", "n": 2, "maxMessages$": 2]) {
                untyped.append(value)
            }
            #expect(untyped == [1, 2])
        }
    }

    @Test(arguments: allKinds) func scatterGather(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            for index in 0..<3 {
                let service = try await env.hemera(app: "node-\(index)")
                try service.add(["topic": "status", "cmd": "report", "pubsub$": true]) { _, _ in
                    .string("node-\(index)")
                }
                try await service.transport.flush(timeout: .seconds(1))
            }
            let client = try await env.hemera()
            var answers: [String] = []
            for try await answer in try client.actMany("topic:status,cmd:report", timeout: Duration.milliseconds(500).scaledForTests) {
                answers.append(answer.stringValue ?? "")
            }
            #expect(answers.sorted() == ["node-0", "node-1", "node-2"])
        }
    }

    @Test(arguments: allKinds, [true, false]) func concurrencyLimitPerAction(
        kind: TransportKind,
        onDeliveryThread: Bool
    ) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera { $0.startsHandlersOnDeliveryThread = onDeliveryThread }
            let running = PthreadLock((now: 0, peak: 0))
            try service.add("topic:limited,cmd:x", options: AddOptions(concurrencyLimit: 2)) { _, _ in
                running.withLock {
                    $0.now += 1; $0.peak = max($0.peak, $0.now)
                }
                try await Task.sleep(for: .milliseconds(50))
                running.withLock { $0.now -= 1 }
                return true
            }
            let client = try await env.hemera()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // A generous timeout: this checks the peak concurrency, not speed (sanitizer runs are slow).
                for _ in 0..<6 { group.addTask { _ = try await client.act("topic:limited,cmd:x", timeout: .seconds(20)) } }
                try await group.waitForAll()
            }
            #expect(running.withLock { $0.peak } == 2)
        }
    }
}
