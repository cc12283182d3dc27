import Foundation
@testable import Hemera
import HemeraJSON
import Testing

/// Typed act vs a raw NATS request/reply, one in flight. Run with `HEMERA_BENCH=1` (release build).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HEMERA_BENCH"] != nil)) struct LatencyBenchmark {
    @Test func typedActVersusRawRequest() async throws {
        try await withEnv(.nats) { env in
            let iterations = Int(ProcessInfo.processInfo.environment["HEMERA_BENCH_N"] ?? "") ?? 20_000
            let rawService = try await env.transport()
            let answer = Array("3".utf8)
            let subscription = try rawService.subscribe(to: "raw", queue: nil) { message in
                if let replyTo = message.replyTo { try? rawService.publish(to: replyTo, payload: answer, replyTo: nil) }
            }
            defer { try? subscription.unsubscribe() }
            let inline = ProcessInfo.processInfo.environment["HEMERA_BENCH_TASK_HOP"] == nil
            let service = try await env.hemera { $0.startsHandlersOnDeliveryThread = inline }
            try service.add(AddAction())
            let client = try await env.hemera()
            let rawClient = client.transport
            try await rawService.flush(timeout: .seconds(1))
            try await service.transport.flush(timeout: .seconds(1))
            let request = Array(#"{"a":1,"b":2}"#.utf8)
            let clock = ContinuousClock()
            for _ in 0..<1000 {
                _ = try await rawClient.request(to: "raw", payload: request, timeout: .seconds(2))
                _ = try await client.act(Add(a: 1, b: 2))
            }
            var rawTime = Duration.zero
            var typedTime = Duration.zero
            let mode = ProcessInfo.processInfo.environment["HEMERA_BENCH_MODE"] ?? "both"
            for round in 0..<4 {
                if mode == "raw" || mode == "both" {
                    let start = clock.now
                    for _ in 0..<(iterations / 4) {
                        _ = try await rawClient.request(to: "raw", payload: request, timeout: .seconds(2))
                    }
                    rawTime += clock.now - start
                }
                if mode == "typed" || mode == "both" {
                    let middle = clock.now
                    for _ in 0..<(iterations / 4) {
                        let sum = try await client.act(Add(a: 1, b: 2))
                        precondition(sum == 3)
                    }
                    typedTime += clock.now - middle
                }
                _ = round
            }
            if mode == "split" {
                // Client overhead: typed act against a raw responder answering a canned reply.
                let canned = Array(
                    #"{"meta":{},"trace":{"traceId":"T","spanId":"S","timestamp":1,"service":"m","method":"m"},"request":{"id":"R","type":"request","service":"m","method":"m"},"result":3,"error":null}"#
                        .utf8
                )
                let cannedSub = try rawService.subscribe(to: "canned", queue: nil) { message in
                    if let replyTo = message.replyTo {
                        try? rawService.publish(to: replyTo, payload: canned, replyTo: nil)
                    }
                }
                defer { try? cannedSub.unsubscribe() }
                try await rawService.flush(timeout: .seconds(1))
                let start = clock.now
                for _ in 0..<iterations { _ = try await client.act(Canned(a: 1, b: 2)) }
                print("BENCH client-side: typed act vs raw responder: \((clock.now - start) / iterations)")
                // Server overhead: raw request with a full envelope at the Hemera service.
                let envelope = Array(
                    #"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{},"delegate":{},"trace":{"traceId":"T","spanId":"S","timestamp":1,"service":"math","method":"a:1,b:2,cmd:add,topic:math"},"request":{"id":"R","type":"request","service":"math","method":"a:1,b:2,cmd:add,topic:math"}}"#
                        .utf8
                )
                let middle = clock.now
                for _ in 0..<iterations {
                    _ = try await rawClient.request(to: "math", payload: envelope, timeout: .seconds(2))
                }
                print("BENCH server-side: raw request at Hemera service: \((clock.now - middle) / iterations)")
                let end = clock.now
                for _ in 0..<iterations {
                    _ = try await rawClient.request(to: "raw", payload: request, timeout: .seconds(2))
                }
                print("BENCH raw: \((clock.now - end) / iterations)")
                return
            }
            let rawMicros =
                Double(rawTime.components.attoseconds / 1_000_000_000_000 + rawTime.components.seconds * 1_000_000)
                / Double(iterations)
            let typedMicros =
                Double(typedTime.components.attoseconds / 1_000_000_000_000 + typedTime.components.seconds * 1_000_000)
                / Double(iterations)
            print(
                "BENCH raw request/reply: \(rawMicros) µs, typed act: \(typedMicros) µs, ratio \(typedMicros / rawMicros)"
            )
        }
    }
}

struct Canned: HemeraPattern {
    static let topic = "canned"
    static let cmd: String? = nil
    typealias Reply = Int
    var a: Int
    var b: Int
}

extension LatencyBenchmark {
    @Test func componentCosts() async throws {
        let clock = ContinuousClock()
        let n = 20_000
        let hemera = Hemera(transport: InMemoryTransport())
        try hemera.add(AddAction())
        for _ in 0..<1000 { _ = try await hemera.act(Add(a: 1, b: 2)) }
        var start = clock.now
        for _ in 0..<n { _ = try await hemera.act(Add(a: 1, b: 2)) }
        print("BENCH in-memory typed act: \((clock.now - start) / n)")
        start = clock.now
        for _ in 0..<n { _ = EncodedTypedPattern(Add(a: 1, b: 2)) }
        print("BENCH encode typed pattern: \((clock.now - start) / n)")
        let envelope = Array(
            #"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{},"delegate":{},"trace":{"traceId":"ABCDEFGHIJKL1","spanId":"ABCDEFGHIJKL2","timestamp":1795779096735.123,"service":"math","method":"a:1,b:2,cmd:add,topic:math"},"request":{"id":"ABCDEFGHIJKL3","type":"request","service":"math","method":"a:1,b:2,cmd:add,topic:math"}}"#
                .utf8
        )
        start = clock.now
        let parses = ProcessInfo.processInfo.environment["HEMERA_BENCH_SKIP_JSON_PARSE"] == nil ? n : 0
        for _ in 0..<parses { _ = try JSONValue(parsing: envelope) }
        print("BENCH parse envelope: \((clock.now - start) / n)")
        start = clock.now
        for _ in 0..<n { _ = try EnvelopeParser.parse(envelope) }
        print("BENCH parse envelope (EnvelopeParser): \((clock.now - start) / n)")
        let pattern: JSONValue = ["topic": "math", "cmd": "add", "a": 1, "b": 2]
        start = clock.now
        for _ in 0..<n { _ = try HemeraJSONDecoder().decode(Add.self, from: pattern) }
        print("BENCH decode Add from JSONValue: \((clock.now - start) / n)")
        start = clock.now
        for _ in 0..<n { _ = try HemeraJSONDecoder().decode(Add.self, from: Array(#"{"a":1,"b":2}"#.utf8)) }
        print("BENCH decode Add from bytes: \((clock.now - start) / n)")
        let canned = Array(
            #"{"meta":{},"trace":{"traceId":"T","spanId":"S","timestamp":1,"service":"m","method":"m"},"request":{"id":"R","type":"request","service":"m","method":"m"},"result":3,"error":null}"#
                .utf8
        )
        start = clock.now
        for _ in 0..<n {
            let encoded = EncodedTypedPattern(Add(a: 1, b: 2))!
            let payload = hemera.encodeEnvelope(
                topic: encoded.topic,
                method: encoded.method,
                meta: [:],
                delegate: [:],
                type: .request
            ) { $0.raw(encoded.bytes) }
            precondition(payload.count > 10)
            let reply = try Hemera.decodeReplyEnvelope(canned)
            let result = try hemera.decodeReply(Int.self, from: reply.result)
            precondition(result == 3)
        }
        print("BENCH client CPU per typed act: \((clock.now - start) / n)")
        start = clock.now
        for _ in 0..<n { await Task {}.value }
        print("BENCH task hop: \((clock.now - start) / n)")
    }
}

extension LatencyBenchmark {
    /// Where handlers start (``HemeraOptions/startsHandlersOnDeliveryThread``): the p50 of a lone
    /// typed act in each mode (rounds alternate, same run), and four concurrent calls to a handler
    /// that blocks for 200 ms.
    @Test func handlerStartModes() async throws {
        try await withEnv(.nats) { env in
            let iterations = Int(ProcessInfo.processInfo.environment["HEMERA_BENCH_N"] ?? "") ?? 20_000
            var clients: [Bool: Hemera] = [:]
            for onDeliveryThread in [false, true] {
                let service = try await env.hemera { $0.startsHandlersOnDeliveryThread = onDeliveryThread }
                let topic = onDeliveryThread ? "inline" : "hop"
                try service.add(["topic": .string(topic), "cmd": "add"]) { pattern, _ in
                    .integer((pattern["a"]?.integerValue ?? 0) + (pattern["b"]?.integerValue ?? 0))
                }
                try service.add(["topic": .string(topic), "cmd": "block"]) { _, _ in
                    usleep(200_000)
                    return true
                }
                try await service.ready()
                clients[onDeliveryThread] = try await env.hemera()
            }
            let clock = ContinuousClock()
            var samples: [Bool: [Duration]] = [false: [], true: []]
            for round in 0..<10 {
                for onDeliveryThread in round % 2 == 0 ? [false, true] : [true, false] {
                    let client = clients[onDeliveryThread]!
                    let pattern: Pattern = ["topic": .string(onDeliveryThread ? "inline" : "hop"), "cmd": "add", "a": 1, "b": 2]
                    for _ in 0..<(iterations / 10) {
                        let start = clock.now
                        _ = try await client.act(pattern)
                        samples[onDeliveryThread]!.append(clock.now - start)
                    }
                }
            }
            for onDeliveryThread in [false, true] {
                let sorted = samples[onDeliveryThread]!.sorted()
                let p50 = sorted[sorted.count / 2]
                let p90 = sorted[sorted.count * 9 / 10]
                print("BENCH lone act, startsHandlersOnDeliveryThread=\(onDeliveryThread): p50 \(p50), p90 \(p90)")
            }
            for onDeliveryThread in [false, true] {
                let client = clients[onDeliveryThread]!
                let pattern: Pattern = ["topic": .string(onDeliveryThread ? "inline" : "hop"), "cmd": "block"]
                let start = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 { group.addTask { _ = try await client.act(pattern, timeout: .seconds(5)) } }
                    try await group.waitForAll()
                }
                print("BENCH 4 calls x 200 ms blocking, startsHandlersOnDeliveryThread=\(onDeliveryThread): \(clock.now - start)")
            }
        }
    }
}
