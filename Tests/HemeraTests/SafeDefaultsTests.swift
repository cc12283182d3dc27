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
            let entry = logs.all.first { $0.level == .error && "\($0.metadata["error"] ?? "")".contains("disk on fire") }
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
            try service.add(AddAction.Request.self) { request, context in
                context.logger.info("adding")
                return request.a + request.b
            }
            try await service.ready()
            let client = try await env.hemera()
            #expect(try await client.act(Add(a: 1, b: 2)) == 3)
            let entry = logs.all.first { $0.message == "adding" }
            #expect(entry?.metadata[HemeraContext.LoggerMetadataKey.pattern] == "a:1,b:2,cmd:add,topic:math")
            #expect("\(entry?.metadata[HemeraContext.LoggerMetadataKey.requestId] ?? "")".count > 8)
            #expect("\(entry?.metadata[HemeraContext.LoggerMetadataKey.traceId] ?? "")".count > 8)
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
            try service.add("topic:inventory,cmd:slow") { _, _ in
                slowRunning.withLock { $0 = true }
                usleep(400_000)  // synchronous work before any suspension
                slowDone.withLock { $0 = true }
                return true
            }
            try service.add("topic:inventory,cmd:fast") { _, _ in true }
            try await service.ready()
            let client = try await env.hemera()
            let slow = Task { try await client.act("topic:inventory,cmd:slow", timeout: .seconds(5)) }
            #expect(await eventually { slowRunning.withLock { $0 } })
            _ = try await client.act("topic:inventory,cmd:fast", timeout: .seconds(5))
            // The fast call was answered while the slow handler still blocked its thread.
            #expect(slowDone.withLock { $0 } == false)
            #expect(try await slow.value == true)
        }
    }
}
