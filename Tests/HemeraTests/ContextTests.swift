@testable import Hemera
import HemeraTesting
import Testing
import HemeraLocks

@Suite(.timeLimit(.minutes(1))) struct ContextTests {
    @Test(arguments: allKinds) func metaDelegateAndTracePropagateThroughNestedActs(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let seen = PthreadLock<[String: HemeraContext]>([:])
            let math = try await env.hemera(app: "math-service")
            try math.add(Add.self) { request, context in
                seen.withLock { $0["add"] = context }
                return request.a + request.b
            }
            try math.add("topic:math,cmd:nested") { pattern, context in
                seen.withLock { $0["nested"] = context }
                let sum = try await math.act(
                    Add(a: pattern["a"]?.integerValue.map(Int.init) ?? 0, b: 6),
                    meta: ["extra": 1]
                )
                return ["sum": .integer(Int64(sum))]
            }
            let client = try await env.hemera(app: "client")
            let result = try await client.act(
                "topic:math,cmd:nested,a:5",
                meta: ["token": "abc"],
                delegate: ["tenant": "t1"]
            )
            #expect(result == ["sum": 11])
            let nested = try #require(seen.withLock { $0["nested"] })
            let add = try #require(seen.withLock { $0["add"] })
            #expect(nested.meta == ["token": "abc"])
            #expect(nested.delegate == ["tenant": "t1"])
            #expect(add.meta == ["token": "abc", "extra": 1])
            #expect(add.delegate == [:])
            #expect(nested.trace.parentSpanId == nil)
            #expect(add.trace.traceId == nested.trace.traceId)
            #expect(add.trace.parentSpanId == nested.trace.spanId)
            #expect(add.trace.spanId != nested.trace.spanId)
            #expect(add.trace.method == "a:5,b:6,cmd:add,topic:math")
            #expect(add.request.method == "a:5,b:6,cmd:add,topic:math")
            #expect(add.request.id != nested.request.id)
            #expect(nested.trace.timestamp > 1_600_000_000_000)
        }
    }

    struct SumOfSquares: HemeraPattern {
        static let topic = "math"
        static let cmd: String? = "sumOfSquares"
        typealias Reply = Int
        var a: Int
        var b: Int
    }

    /// A named handler makes nested calls through its context.
    struct SumOfSquaresAction: HemeraAction {
        func handle(_ request: SumOfSquares, context: HemeraContext) async throws -> Int {
            async let a = context.hemera.act(["topic": "math", "cmd": "square", "x": .integer(Int64(request.a))])
            async let b = context.hemera.act(["topic": "math", "cmd": "square", "x": .integer(Int64(request.b))])
            return Int(try await a.integerValue ?? 0) + Int(try await b.integerValue ?? 0)
        }
    }

    @Test(arguments: allKinds) func namedHandlersActThroughTheirContext(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let parents = Recorder()
            try service.add("topic:math,cmd:square") { pattern, context in
                parents.append(context.trace.parentSpanId ?? "none")
                return .integer((pattern["x"]?.integerValue ?? 0) * (pattern["x"]?.integerValue ?? 0))
            }
            try service.add(SumOfSquaresAction())
            let client = try await env.hemera()
            #expect(try await client.act(SumOfSquares(a: 3, b: 4)) == 25)
            #expect(parents.all.count == 2 && !parents.all.contains("none"))
        }
    }

    @Test(arguments: allKinds) func metaIsEchoedInTheReply(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.add(AddAction())
            let raw = try await env.transport()
            let request =
                #"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{"token":"abc"},"delegate":{},"trace":{"traceId":"T","spanId":"S","timestamp":1,"service":"math","method":"a:1,b:2,cmd:add,topic:math"},"request":{"id":"R","type":"request","service":"math","method":"a:1,b:2,cmd:add,topic:math"}}"#
            let reply = try JSONValue(
                parsing: try await raw.request(to: "math", payload: Array(request.utf8), timeout: .seconds(2)).payload
            )
            #expect(reply["meta"] == ["token": "abc"])
            #expect(reply["trace"]?["traceId"] == "T")
            #expect(reply["request"]?["id"] == "R")
            #expect(reply["result"] == 3)
            #expect(reply["error"] == .null)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct InterceptorTests {
    struct ClientLog: HemeraClientInterceptor {
        let name: String
        let log: Recorder
        func intercept(_ request: ActRequest, next: @Sendable (ActRequest) async throws -> ActResponse) async throws
            -> ActResponse
        {
            log.append("\(name).before")
            var request = request
            request.meta[name] = true
            let response = try await next(request)
            log.append("\(name).after")
            return response
        }
    }

    struct ServerLog: HemeraServerInterceptor {
        let log: Recorder
        func onRequest(_ context: HemeraContext) async throws { log.append("onRequest") }
        func preHandler(_ context: HemeraContext) async throws {
            log.append("preHandler")
            if context.pattern["cmd"] == "forbidden" {
                throw HemeraError(name: "Forbidden", message: "no", code: "E_FORBIDDEN")
            }
        }
        func onSend(_ reply: inout ServerReply, context: HemeraContext) async throws {
            log.append("onSend")
            if reply.error == nil, let result = reply.result?.integerValue { reply.result = .integer(result * 10) }
        }
        func onResponse(_ reply: ServerReply, context: HemeraContext) async { log.append("onResponse") }
        func onError(_ error: HemeraError, context: HemeraContext) async { log.append("onError:\(error.name)") }
    }

    @Test(arguments: allKinds) func clientAndServerInterceptorsRunInOrder(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let serverLog = Recorder()
            let clientLog = Recorder()
            let service = try await env.hemera { $0.serverInterceptors = [ServerLog(log: serverLog)] }
            let middleware = HemeraMiddleware { context, next in
                serverLog.append("middleware.before")
                try await next()
                serverLog.append("middleware.after")
            }
            try service.add(Add.self, options: AddOptions(middleware: [middleware])) { request, context in
                serverLog.append("handler meta=\(context.meta.keys.sorted())")
                return request.a + request.b
            }
            try service.add("topic:math,cmd:forbidden") { _, _ in
                serverLog.append("forbidden handler")
                return true
            }
            let client = try await env.hemera {
                $0.clientInterceptors = [
                    ClientLog(name: "outer", log: clientLog), ClientLog(name: "inner", log: clientLog),
                ]
            }
            #expect(try await client.act(Add(a: 1, b: 2)) == 30)
            #expect(clientLog.all == ["outer.before", "inner.before", "inner.after", "outer.after"])
            #expect(await eventually { serverLog.all.count == 7 })
            #expect(
                serverLog.all == [
                    "onRequest", "preHandler", "middleware.before", "handler meta=[\"inner\", \"outer\"]",
                    "middleware.after",
                    "onSend", "onResponse",
                ]
            )
            let error = await hemeraError { try await client.act("topic:math,cmd:forbidden") }
            #expect(error?.code == "E_FORBIDDEN")
            #expect(await eventually { serverLog.all.count == 12 })
            #expect(
                Array(serverLog.all.suffix(5)) == [
                    "onRequest", "preHandler", "onError:Forbidden", "onSend", "onResponse",
                ]
            )
            #expect(!serverLog.all.contains("forbidden handler"))
        }
    }

    @Test(arguments: allKinds) func middlewareCanReject(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let auth = HemeraMiddleware { context, next in
                guard context.meta["token"] == "secret" else { throw Unauthorized(user: "anonymous") }
                try await next()
            }
            try service.add(Add.self, options: AddOptions(middleware: [auth])) { request, _ in request.a + request.b }
            let client = try await env.hemera()
            let error = await hemeraError { try await client.act(Add(a: 1, b: 2)) }
            #expect(error?.name == "Unauthorized")
            #expect(try await client.act(Add(a: 1, b: 2), meta: ["token": "secret"]) == 3)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct LifecycleTests {
    @Test(arguments: allKinds) func removeAndList(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let add = try service.add(AddAction())
            try service.add(AddProduct.self) { request, _ in request.quantity }
            try service.add("topic:math,cmd:mul") { _, _ in 0 }
            let actions = service.actions
            #expect(
                actions.map(\.pattern) == [
                    ["topic": "math", "cmd": "add"], ["topic": "cart", "cmd": "addProduct"],
                    ["topic": "math", "cmd": "mul"],
                ]
            )
            #expect(actions[1].schema["quantity"]?["type"] == "integer")
            #expect(actions[1].schema["quantity"]?["required"] == true)
            #expect(actions[1].schema["quantity"]?["rules"]?[0]?["rule"] == "range")
            #expect(actions[1].schema["quantity"]?["rules"]?[0]?["max"] == "5")
            #expect(actions[1].schema["note"] == ["type": "string", "required": false])
            #expect(
                actions[0].schema == [
                    "a": ["type": "integer", "required": true], "b": ["type": "integer", "required": true],
                ]
            )
            #expect(actions[2].schema == [:])
            let client = try await env.hemera()
            #expect(try await client.act(Add(a: 1, b: 1)) == 2)
            #expect(service.remove(add))
            #expect(!service.remove(add))
            let gone = await hemeraError { try await client.act(Add(a: 1, b: 1)) }
            #expect(gone?.name == .patternNotFound)
            #expect(service.remove("topic:math,cmd:mul") == 1)
            #expect(service.actions.count == 1)
            // The last action of a topic gone: nobody listens any more.
            if kind == .nats { try await service.transport.flush(timeout: .seconds(1)) }
            let none = await hemeraError { try await client.act("topic:math,cmd:mul") }
            #expect(none?.name == .noResponders)
        }
    }

    @Test(arguments: allKinds) func gracefulCloseFinishesInFlightHandlers(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let started = Counter()
            try service.add("topic:slow,cmd:work") { _, _ in
                started.increment()
                try await Task.sleep(for: .milliseconds(300))
                return "done"
            }
            let client = try await env.hemera()
            async let reply = client.act("topic:slow,cmd:work", timeout: .seconds(3))
            #expect(await eventually { started.count == 1 })
            let clock = ContinuousClock()
            let start = clock.now
            await service.close()
            #expect(clock.now - start >= .milliseconds(150))
            #expect(try await reply == "done")
            #expect(service.inFlightCount == 0)
            #expect(throws: HemeraError.self) { try service.add(AddAction()) }
        }
    }

    @Test func closeGivesUpOnAHangingHandlerAfterTheGracePeriod() async throws {
        let transport = InMemoryTransport()
        let service = Hemera(transport: transport)
        let started = Counter()
        try service.add("topic:hang,cmd:x") { _, _ in
            started.increment()
            try await Task.sleep(for: .seconds(30))
            return true
        }
        let client = Hemera(transport: transport)
        let call = Task { try await client.act("topic:hang,cmd:x", timeout: .seconds(20)) }
        #expect(await eventually { started.count == 1 })
        let clock = ContinuousClock()
        let start = clock.now
        await service.close(gracePeriod: .milliseconds(100))
        // The 100 ms grace period, not the handler's 30 s (scaled for sanitizer runs).
        #expect(clock.now - start < Duration.seconds(2).scaledForTests)
        #expect(service.inFlightCount == 1)
        // The abandoned handler never replies: its caller is answered by the close with a typed
        // error (issue 13, item 6), long before its own 20 s timeout.
        let error = await #expect(throws: HemeraError.self) { try await call.value }
        #expect(error?.name == .unavailable)
        #expect(error?.code == "E_SHUTDOWN")
        #expect(clock.now - start < Duration.seconds(5).scaledForTests)
    }

    @Test func withHemeraScope() async throws {
        let transport = InMemoryTransport()
        let sum = try await withHemera(transport: transport) { hemera in
            try hemera.add(AddAction())
            return try await hemera.act(Add(a: 2, b: 3))
        }
        #expect(sum == 5)
        // After the scope the instance no longer serves.
        try await withHemera(transport: transport) { hemera in
            let error = await hemeraError { try await hemera.act(Add(a: 2, b: 3)) }
            #expect(error?.name == .noResponders)
        }
    }
}
