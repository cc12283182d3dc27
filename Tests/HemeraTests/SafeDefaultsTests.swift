import Foundation
import HemeraLocks
import HemeraTesting
import Logging
import Testing

@testable import Hemera

/// Issue 14: the defaults a Swift server developer expects (errors that do not leak, handlers
/// that do not queue behind each other, loud pattern mistakes, a request-scoped logger).
@Suite struct SafeDefaultsTests {
    struct Boom: Error { var reason: String }
    struct Shown: HemeraPublicError, CustomStringConvertible {
        var description: String { "the shelf is empty" }
    }

    @Test(arguments: allKinds) func internalErrorsReachCallersAsGenericErrorsAndAreLogged(kind: TransportKind)
        async throws
    {
        try await withEnv(kind) { env in
            let (logger, logs) = CapturingLogHandler.logger(label: "inventory")
            let service = try await env.hemera(app: "inventory") { $0.logger = logger }
            try service.add("topic:inventory,cmd:boom") { _, _ in throw Boom(reason: "disk on fire") }
            try service.add("topic:inventory,cmd:shown") { _, _ in throw Shown() }
            try service.add("topic:inventory,cmd:typed") { _, _ in
                throw HemeraError(name: "NotFound", message: "no such sku", code: "E_NOT_FOUND")
            }
            try await service.ready()
            let client = try await env.hemera()

            let hidden = await hemeraError { try await client.act("topic:inventory,cmd:boom") }
            #expect(hidden?.name == .internalError)
            #expect(hidden?.code == HemeraError.internalCode)
            #expect(hidden?.message.contains("disk on fire") == false)
            #expect(hidden?.message.contains("Boom") == false)
            #expect(hidden?.message.hasPrefix("Internal error") == true)
            #expect(hidden?.hops.first?.app == "inventory")

            // The detail is in the service's log, with request id, trace id and pattern.
            let entry = logs.all.first {
                $0.level == .error && "\($0.metadata["error"] ?? "")".contains("disk on fire")
            }
            #expect(entry != nil, "no error log with the handler's error: \(logs.all.map(\.message))")
            let requestId = "\(entry?.metadata[HemeraContext.LoggerMetadataKey.requestId] ?? "")"
            #expect(!requestId.isEmpty)
            #expect(hidden?.message.contains(requestId) == true, "the caller can quote the request id")
            #expect("\(entry?.metadata[HemeraContext.LoggerMetadataKey.traceId] ?? "")".isEmpty == false)
            #expect(entry?.metadata[HemeraContext.LoggerMetadataKey.pattern] == "cmd:boom,topic:inventory")

            // Opted-in errors and Hemera errors travel as they are.
            let shown = await hemeraError { try await client.act("topic:inventory,cmd:shown") }
            #expect(shown?.name == .internalError)
            #expect(shown?.message == "the shelf is empty")
            #expect(shown?.code == nil)
            let typed = await hemeraError { try await client.act("topic:inventory,cmd:typed") }
            #expect(typed?.name == "NotFound")
            #expect(typed?.code == "E_NOT_FOUND")
            #expect(typed?.codeString == "E_NOT_FOUND")
        }
    }

    @Test(arguments: allKinds) func handlerContextCarriesARequestScopedLogger(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let (logger, logs) = CapturingLogHandler.logger()
            let service = try await env.hemera { $0.logger = logger }
            let headers = PthreadLock<[String: String]>([:])
            try service.add(AddAction.Request.self) { request, context in
                context.logger.info("adding")
                headers.withLock { $0 = context.requestHeaders }
                return request.a + request.b
            }
            try await service.ready()
            let client = try await env.hemera()
            #expect(try await client.act(Add(a: 1, b: 2)) == 3)
            let entry = logs.all.first { $0.message == "adding" }
            #expect(entry?.metadata[HemeraContext.LoggerMetadataKey.pattern] == "a:1,b:2,cmd:add,topic:math")
            #expect("\(entry?.metadata[HemeraContext.LoggerMetadataKey.requestId] ?? "")".count > 8)
            #expect("\(entry?.metadata[HemeraContext.LoggerMetadataKey.traceId] ?? "")".count > 8)
            if kind == .nats {  // the deadline header a Swift caller sends
                #expect(headers.withLock { $0[HemeraHeaders.timeout] } != nil)
            }
        }
    }
}

/// Issue 14, item 2: a handler that blocks does not hold the other requests of its topic.
@Suite struct HandlerStartTests {
    @Test func aBlockingHandlerDoesNotQueueOtherRequestsOfItsTopicByDefault() async throws {
        try await withEnv(.nats) { env in
            let service = try await env.hemera()
            let slowRunning = PthreadLock(false)
            let slowDone = PthreadLock(false)
            let fastAnswered = PthreadLock(false)
            try service.add("topic:inventory,cmd:slow") { _, _ in
                slowRunning.withLock { $0 = true }
                // Synchronous work before any suspension: blocks its thread until the fast call was
                // answered, or for 5 s (what it does when the fast call waits behind it).
                for _ in 0..<500 where !fastAnswered.withLock({ $0 }) { usleep(10_000) }
                slowDone.withLock { $0 = true }
                return true
            }
            try service.add("topic:inventory,cmd:fast") { _, _ in true }
            try await service.ready()
            let client = try await env.hemera()
            let slow = Task { try await client.act("topic:inventory,cmd:slow", timeout: .seconds(10)) }
            #expect(await eventually { slowRunning.withLock { $0 } })
            _ = try await client.act("topic:inventory,cmd:fast", timeout: .seconds(10))
            // The fast call was answered while the slow handler still blocked its thread.
            #expect(slowDone.withLock { $0 } == false)
            fastAnswered.withLock { $0 = true }
            #expect(try await slow.value == true)
        }
    }
}

/// Issue 14, item 3: pattern mistakes are loud.
@Suite struct PatternDeclarationTests {
    @Test(arguments: allKinds) func registeringAPatternAlreadyInUseThrowsUnlessAllowed(kind: TransportKind)
        async throws
    {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let first = try service.add("topic:inventory,cmd:count") { _, _ in 1 }
            let again = await hemeraError { try service.add("topic:inventory,cmd:count") { _, _ in 2 } }
            #expect(again?.name == .patternAlreadyInUse)
            #expect(again?.message == "Pattern is already in use: cmd:count,topic:inventory")
            // Typed registrations with the same keys, in another queue group too.
            try service.add(AddAction())
            #expect(await hemeraError { try service.add(AddAction()) }?.name == .patternAlreadyInUse)
            #expect(
                await hemeraError {
                    try service.add("topic:math,cmd:add", options: AddOptions(queue: "other")) { _, _ in 0 }
                }?.name == .patternAlreadyInUse
            )
            // Other keys, a removed registration, or an explicit opt-in are fine.
            try service.add("topic:inventory,cmd:count,sku:1") { _, _ in 3 }
            var allowed = AddOptions()
            allowed.allowsDuplicatePattern = true
            try service.add("topic:inventory,cmd:count", options: allowed) { _, _ in 2 }
            try await service.ready()
            let client = try await env.hemera()
            #expect(try await client.act("topic:inventory,cmd:count") == 2)
            service.remove(first)
            try service.add("topic:inventory,cmd:other") { _, _ in 4 }
        }
    }

    /// `static let cmd = "ping"` (a `String`) does not compile: the requirement has no default
    /// that would silently win. Checked by type-checking a user's file against the built module.
    @Test func aCmdDeclaredWithTheWrongTypeDoesNotCompile() async throws {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var modules = testBinary.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: modules.appendingPathComponent("Modules/Hemera.swiftmodule").path)
        {
            guard modules.pathComponents.count > 1 else {
                throw TestFailure("no Modules directory near \(testBinary.path)")
            }
            modules = modules.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        /// Type-checks a user's file with `swiftc`, waiting for it without blocking a thread of
        /// Swift's pool (the other tests need them).
        func typecheck(_ declaration: String) async throws -> (status: Int32, output: String) {
            let directory = FileManager.default.temporaryDirectory
            let file = directory.appendingPathComponent("ping-\(UUID().uuidString).swift")
            let log = directory.appendingPathComponent("ping-\(UUID().uuidString).log")
            try """
            import Hemera
            struct Ping: HemeraPattern {
                static let topic = "health"
                \(declaration)
                typealias Reply = Bool
            }
            """.write(to: file, atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            defer {
                try? FileManager.default.removeItem(at: file)
                try? FileManager.default.removeItem(at: log)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "swiftc", "-typecheck", "-I", modules.appendingPathComponent("Modules").path,
                "-I", root.appendingPathComponent("CNats").path,
                "-I", root.appendingPathComponent("Sources/CJansson").path, file.path,
            ]
            let output = try FileHandle(forWritingTo: log)
            process.standardOutput = output
            process.standardError = output
            let (exited, exit) = AsyncStream<Void>.makeStream()
            process.terminationHandler = { _ in exit.finish() }
            try process.run()
            for await _ in exited {}
            try output.close()
            return (process.terminationStatus, try String(contentsOf: log, encoding: .utf8))
        }
        let right = try await typecheck(#"static let cmd: String? = "ping""#)
        #expect(right.status == 0, "\(right.output)")
        let wrong = try await typecheck(#"static let cmd = "ping""#)
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("does not conform to protocol 'HemeraPattern'"), "\(wrong.output)")
        #expect(wrong.output.contains("candidate has non-matching type 'String'"), "\(wrong.output)")
    }
}

/// Issue 14, item 5: a normal close is not a warning; a lost server still is.
@Suite struct CloseLoggingTests {
    @Test func aNormalCloseLogsNoWarning() async throws {
        try await withNATSServer { server in
            let (logger, logs) = CapturingLogHandler.logger()
            let service = try await Hemera.connect(
                url: server.url,
                options: HemeraOptions(app: "quiet", logger: logger)
            )
            try service.add("topic:quiet,cmd:ping") { _, _ in true }
            try await service.ready()
            #expect(try await service.act("topic:quiet,cmd:ping") == true)
            await service.close()
            let warnings = logs.all.filter { $0.level >= .warning }
            #expect(warnings.isEmpty, "\(warnings.map(\.message))")
            #expect(logs.all.contains { $0.message.contains("NATS connection closed") })
        }
    }

    @Test func aLostServerIsStillAWarning() async throws {
        let server = NATSTestServer()
        try await server.start()
        defer { server.stop() }
        let (logger, logs) = CapturingLogHandler.logger()
        let service = try await Hemera.connect(url: server.url, options: HemeraOptions(app: "loud", logger: logger))
        server.stop()
        #expect(
            await eventually(timeout: .seconds(5)) {
                logs.all.contains { $0.level == .warning && $0.message == "NATS disconnected" }
            }
        )
        await service.close()
    }
}

/// Issue 14, item 6: a stream of unknown length ends when the handler is done (Swift peers), and
/// Hemera 7 peers see what they always saw.
@Suite struct StreamEndTests {
    struct Countdown: HemeraPattern {
        static let topic = "clock"
        static let cmd: String? = "countdown"
        typealias Reply = Int
        var from: Int
    }

    @Test(arguments: allKinds) func aStreamOfUnknownLengthEndsWhenTheHandlerReturns(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            try service.addStreaming(Countdown.self) { request, _, writer in
                for value in stride(from: request.from, through: 1, by: -1) { try await writer.send(value) }
            }
            try await service.ready()
            let client = try await env.hemera()
            let start = ContinuousClock.now
            var received: [Int] = []
            for try await value in try client.actMany(Countdown(from: 3), timeout: .seconds(30)) {
                received.append(value)
            }
            #expect(received == [3, 2, 1])
            #expect(ContinuousClock.now - start < .seconds(20), "ended by the marker, not the 30 s timeout")

            // expectedMessages more than sent: fails as soon as the stream ended.
            let early = ContinuousClock.now
            let error = await hemeraError {
                for try await _ in try client.actMany(Countdown(from: 2), timeout: .seconds(30), expectedMessages: 3) {}
            }
            #expect(error?.name == .expectedMessages)
            #expect(ContinuousClock.now - early < .seconds(20), "ended by the marker, not the 30 s timeout")
        }
    }

    /// A Hemera 7 caller sends no header: it gets the replies and nothing else.
    @Test func aNodeCallerGetsNoEndMarker() async throws {
        try await withEnv(.nats) { env in
            let service = try await env.hemera()
            try service.addStreaming(Countdown.self) { request, _, writer in
                for value in stride(from: request.from, through: 1, by: -1) { try await writer.send(value) }
            }
            try await service.ready()
            let raw = try await env.transport()
            let request = Array(
                #"{"pattern":{"topic":"clock","cmd":"countdown","from":2},"meta":{},"delegate":{},"trace":{"traceId":"T","spanId":"S","timestamp":1,"service":"clock","method":"cmd:countdown,from:2,topic:clock"},"request":{"id":"R","type":"request","service":"clock","method":"cmd:countdown,from:2,topic:clock"}}"#
                    .utf8
            )
            var payloads: [[UInt8]] = []
            // The window scales under a sanitizer (make test-asan's debug pass timed out at 700 ms
            // before the first reply, 18 s into a parallel run).
            for try await reply in raw.requestMany(
                to: "clock",
                payload: request,
                timeout: Duration.milliseconds(700).scaledForTests,
                maxReplies: nil
            ) {
                payloads.append(reply.payload)
            }
            #expect(payloads.count == 2)
            #expect(!payloads.contains(HemeraStream.endMarker))
            #expect(payloads.allSatisfy { String(decoding: $0, as: UTF8.self).contains(#""result":"#) })
        }
    }

    /// A Hemera 7 service sends no marker: a Swift caller's stream ends by its timeout, as before.
    @Test func aNodeServiceStreamEndsByTimeout() async throws {
        try await withEnv(.nats) { env in
            let raw = try await env.transport()
            let subscription = try raw.subscribe(to: "legacy", queue: nil) { message in
                guard let replyTo = message.replyTo else { return }
                for value in [1, 2] {
                    try? raw.publish(
                        to: replyTo,
                        payload: Array(#"{"meta":{},"result":\#(value),"error":null}"#.utf8),
                        replyTo: nil
                    )
                }
            }
            defer { try? subscription.unsubscribe() }
            try await raw.flush(timeout: .seconds(1))
            let client = try await env.hemera()
            var received: [JSONValue] = []
            for try await value in try client.actMany("topic:legacy,cmd:count", timeout: .milliseconds(500)) {
                received.append(value)
            }
            #expect(received == [1, 2])
        }
    }
}

/// Issue 14, item 6: typed events without a `Reply` type, and validation rules named by key paths.
@Suite struct TypedEventTests {
    struct OrderCreated: HemeraEvent, HemeraValidatable {
        static let topic = "orders"
        static let cmd: String? = "created"
        var id: Int
        var sku: String
        static let rules: [ValidationRule<OrderCreated>] = [
            .range(\.id, 1...Int.max), .pattern(\.sku, regex: "^[0-9]{3}$"),
        ]
    }

    @Test(arguments: allKinds) func eventsReachEverySubscriber(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let received = Recorder()
            for name in ["a", "b"] {
                let subscriber = try await env.hemera(app: name)
                try subscriber.subscribe(OrderCreated.self) { event, _ in
                    received.append("\(name):\(event.id):\(event.sku)")
                }
                try await subscriber.ready()
            }
            let publisher = try await env.hemera()
            try await publisher.publish(OrderCreated(id: 7, sku: "001"))
            try await publisher.publish(OrderCreated(id: 0, sku: "001"))  // invalid: never delivered
            #expect(await eventually { received.all.count >= 2 })
            try await Task.sleep(for: .milliseconds(100))
            #expect(received.all.sorted() == ["a:7:001", "b:7:001"])
        }
    }

    struct Product: HemeraPattern, HemeraValidatable {
        static let topic = "products"
        static let cmd: String? = "update"
        typealias Reply = Bool
        var name: String
        var quantity: Int
        var color: String
        static let rules: [ValidationRule<Product>] = [
            .length(\.name, 1...10), .range(\.quantity, 0...5), .oneOf(\.color, ["red", "green"]),
        ]
    }

    @Test(arguments: allKinds) func rulesNamedByKeyPathsCheckTheirKey(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            #expect(Product.rules.map(\.field) == ["name", "quantity", "color"])
            let service = try await env.hemera()
            try service.add(Product.self) { _, _ in true }
            try await service.ready()
            let client = try await env.hemera()
            #expect(try await client.act(Product(name: "chair", quantity: 2, color: "red")) == true)
            let error = await hemeraError { _ = try await client.act(Product(name: "", quantity: 6, color: "blue")) }
            #expect(error?.name == .validation)
            #expect(error?.details?[0]?["path"] == ["name"])
            #expect(error?.details?[1]?["path"] == ["quantity"])
            #expect(error?.details?[2]?["type"] == "any.allowOnly")
        }
    }

    struct Renamed: HemeraPattern, HemeraValidatable {
        static let topic = "products"
        static let cmd: String? = "renamed"
        typealias Reply = Bool
        var productId: Int
        enum CodingKeys: String, CodingKey { case productId = "product_id" }
        static let rules: [ValidationRule<Renamed>] = [.range(\.productId, 0...9)]
    }

    struct Computed: HemeraPattern, HemeraValidatable {
        static let topic = "products"
        static let cmd: String? = "computed"
        typealias Reply = Bool
        var name: String
        var shout: String { name.uppercased() }
        static let rules: [ValidationRule<Computed>] = [.length(\.shout, 1...3)]
    }

    @Test func theFirstAddRejectsKeysTheKeyPathCannotName() async throws {
        let hemera = Hemera(transport: InMemoryTransport())
        let renamed = await hemeraError { try hemera.add(Renamed.self) { _, _ in true } }
        #expect(renamed?.name == .invalidPattern)
        #expect(renamed?.message.contains("CodingKeys") == true, "\(String(describing: renamed))")
        let computed = await hemeraError { try hemera.add(Computed.self) { _, _ in true } }
        #expect(computed?.name == .invalidPattern)
        #expect(computed?.message.contains("not a stored property") == true, "\(String(describing: computed))")
        await hemera.close()
    }
}
