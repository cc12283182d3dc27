import Hemera
import HemeraTesting
import Testing

@Suite(.timeLimit(.minutes(1))) struct ActAndAddTests {
    @Test(arguments: allKinds) func typedActWithNamedAction(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera(app: "math-service")
            try service.add(AddAction())
            let client = try await env.hemera(app: "client")
            let sum = try await client.act(Add(a: 1, b: 2))
            #expect(sum == 3)
        }
    }

    @Test(arguments: allKinds) func untypedActAndShortForm(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add("topic:math,cmd:add") { pattern, _ in
                .integer((pattern["a"]?.integerValue ?? 0) + (pattern["b"]?.integerValue ?? 0))
            }
            try service.add(["topic": "math", "cmd": "hello"]) { pattern, _ in
                ["greeting": .string("hello \(pattern["name"]?.stringValue ?? "")"), "ok": true]
            }
            let client = try await env.hemera()
            #expect(try await client.act(["topic": "math", "cmd": "add", "a": 1, "b": 2]) == 3)
            #expect(try await client.act("topic:math,cmd:add,a:40,b:2") == 42)
            #expect(try await client.act("topic:math,cmd:hello,name:bob") == ["greeting": "hello bob", "ok": true])
            // A typed call answered by an untyped handler.
            #expect(try await client.act(Add(a: 20, b: 22)) == 42)
        }
    }

    @Test(arguments: allKinds) func resultsOfEveryShape(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(Echo.self) { request, _ in request.value ?? .null }
            let client = try await env.hemera()
            for value: JSONValue in [0, false, "text", [1, 2], ["x": ["y": nil]], 0.5, nil] {
                #expect(try await client.act(Echo(value: value)) == value)
            }
        }
    }

    @Test(arguments: allKinds) func patternNotFound(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(AddAction())
            let client = try await env.hemera()
            let error = await hemeraError { try await client.act("topic:math,cmd:nope") }
            #expect(error?.name == .patternNotFound)
            #expect(error?.message == "No action found for this pattern")
            #expect(error?.hops.first?.service == "math")
            #expect(error?.hops.first?.app == "test-service")
        }
    }

    @Test(arguments: allKinds) func noRespondersFailsFast(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let client = try await env.hemera()
            let clock = ContinuousClock()
            let start = clock.now
            let error = await hemeraError { try await client.act("topic:nobody,cmd:x", timeout: .seconds(30)) }
            #expect(error?.name == .noResponders)
            // At once, not at the 30 s timeout (the bound is scaled for sanitizer runs).
            #expect(clock.now - start < Duration.seconds(1).scaledForTests)
        }
    }

    @Test(arguments: allKinds) func timeout(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add("topic:slow,cmd:wait") { pattern, _ in
                try await Task.sleep(for: .milliseconds(pattern["ms"]?.integerValue ?? 0))
                return true
            }
            let client = try await env.hemera()
            let clock = ContinuousClock()
            let start = clock.now
            // The reply would come after 3 s (longer on a slowed-down sanitizer run).
            let replyMS = Int(3000 * testTimeScale)
            let error = await hemeraError {
                try await client.act(["topic": "slow", "cmd": "wait", "ms": .integer(Int64(replyMS)), "timeout$": 150])
            }
            #expect(error?.name == .timeout)
            let elapsed = clock.now - start
            // Wide margin: on a loaded 2-core machine the timer may run late, but never near the reply.
            #expect(elapsed >= .milliseconds(140) && elapsed < .milliseconds(replyMS - 500))
            // A call that is answered in time succeeds.
            #expect(try await client.act("topic:slow,cmd:wait,ms:50", timeout: Duration.seconds(3).scaledForTests) == true)
        }
    }

    @Test(arguments: allKinds) func userErrorTypesKeepNameAndCode(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera(app: "math-service")
            try service.add("topic:math,cmd:fail") { _, _ in throw Unauthorized(user: "bob") }
            struct Plain: Error {}
            try service.add("topic:math,cmd:plain") { _, _ in throw Plain() }
            let client = try await env.hemera()
            let error = await hemeraError { try await client.act("topic:math,cmd:fail") }
            #expect(error?.name == "Unauthorized")
            #expect(error?.message == "not allowed")
            #expect(error?.code == "E_AUTH")
            #expect(error?.details == ["user": "bob"])
            #expect(error?.hops.count == 1)
            #expect(error?.hops.first?.app == "math-service")
            #expect(error?.hops.first?.method == "cmd:fail,topic:math")
            #expect(error?.extra["stack"] == nil)
            let plain = await hemeraError { try await client.act("topic:math,cmd:plain") }
            #expect(plain?.name == .internalError)
        }
    }

    @Test(arguments: allKinds) func hostileMessagesGetParseErrorsWhileServiceKeepsWorking(kind: TransportKind)
        async throws
    {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(AddAction())
            let raw = try await env.transport()
            let garbage = try await raw.request(
                to: "math",
                payload: Array("\u{01}{not json".utf8),
                timeout: .seconds(2)
            )
            let reply = try JSONValue(parsing: garbage.payload)
            #expect(reply["error"]?["name"] == "HemeraParseError")
            for bad in [
                #"[1,2]"#, #"{"pattern":"x","request":{}}"#, #"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2}}"#,
            ] {
                let answer = try await raw.request(to: "math", payload: Array(bad.utf8), timeout: .seconds(2))
                let decoded = try JSONValue(parsing: answer.payload)
                #expect(decoded["error"]?["name"] == "InvalidRequestError")
            }
            // Wrong types in the pattern: a validation error, not a crash.
            let client = try await env.hemera()
            let wrong = await hemeraError {
                try await client.act(["topic": "math", "cmd": "add", "a": ["x": 1], "b": 2])
            }
            #expect(wrong?.name == .validation)
            #expect(try await client.act(Add(a: 2, b: 2)) == 4)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct MatchingTests {
    @Test(arguments: allKinds) func mostSpecificWinsThenMostRecent(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add("topic:m,cmd:a") { _, _ in "general" }
            try service.add("topic:m,cmd:a,kind:x") { _, _ in "specific" }
            try service.add("topic:m") { _, _ in "topic-only" }
            let client = try await env.hemera()
            #expect(try await client.act("topic:m,cmd:a,kind:x,extra:1") == "specific")
            #expect(try await client.act("topic:m,cmd:a,kind:y") == "general")
            #expect(try await client.act("topic:m,cmd:b") == "topic-only")
            // A tie goes to the most recently added.
            try service.add("topic:m,cmd:a,other:1") { _, _ in "newer" }
            #expect(try await client.act("topic:m,cmd:a,kind:x,other:1") == "newer")
        }
    }

    @Test(arguments: allKinds) func insertionMode(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera { $0.matching = .insertion }
            try service.add("topic:m,cmd:a") { _, _ in "first" }
            try service.add("topic:m,cmd:a,kind:x") { _, _ in "second" }
            let client = try await env.hemera()
            #expect(try await client.act("topic:m,cmd:a,kind:x") == "first")
        }
    }

    @Test(arguments: allKinds) func typeStrictEquality(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(["topic": "t", "v": 1]) { _, _ in "number" }
            try service.add(["topic": "t", "v": "1"]) { _, _ in "string" }
            try service.add(["topic": "t", "flag": true]) { _, _ in "bool" }
            try service.add(["topic": "t", "cfg": ["deep": 1]]) { _, _ in "object-key-ignored" }
            let client = try await env.hemera()
            #expect(try await client.act(["topic": "t", "v": 1]) == "number")
            #expect(try await client.act(["topic": "t", "v": 1.0]) == "number")
            #expect(try await client.act(["topic": "t", "v": "1"]) == "string")
            #expect(try await client.act(["topic": "t", "flag": true]) == "bool")
            #expect(try await client.act(["topic": "t", "flag": "true"]) == "object-key-ignored")
            #expect(try await client.act(["topic": "t", "v": 2]) == "object-key-ignored")
        }
    }

    @Test(arguments: allKinds) func regexMatchers(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(Pattern("topic:users").matching("cmd", regex: "^get")) { pattern, _ in
                .string("regex:\(pattern["cmd"]?.stringValue ?? "")")
            }
            let client = try await env.hemera()
            #expect(try await client.act("topic:users,cmd:getOne") == "regex:getOne")
            let miss = await hemeraError { try await client.act("topic:users,cmd:list") }
            #expect(miss?.name == .patternNotFound)
            let number = await hemeraError { try await client.act(["topic": "users", "cmd": 5]) }
            #expect(number?.name == .patternNotFound)
        }
    }

    @Test(arguments: allKinds) func wildcardTopics(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add("topic:geo.*,cmd:ping") { _, context in .string("pong from \(context.subject)") }
            try service.add("topic:orders.>,cmd:ping") { _, context in .string("orders \(context.subject)") }
            let client = try await env.hemera()
            #expect(try await client.act("topic:geo.eu,cmd:ping") == "pong from geo.eu")
            #expect(try await client.act("topic:orders.eu.new,cmd:ping") == "orders orders.eu.new")
            let none = await hemeraError { try await client.act("topic:geo.eu.x,cmd:ping", timeout: .seconds(1)) }
            #expect(none?.name == .noResponders)
        }
    }
}
