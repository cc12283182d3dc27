import Foundation
@testable import Hemera
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
            let service = try await env.hemera()
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
            let rawMicros = Double(rawTime.components.attoseconds / 1_000_000_000_000 + rawTime.components.seconds * 1_000_000) / Double(iterations)
            let typedMicros = Double(typedTime.components.attoseconds / 1_000_000_000_000 + typedTime.components.seconds * 1_000_000) / Double(iterations)
            print("BENCH raw request/reply: \(rawMicros) µs, typed act: \(typedMicros) µs, ratio \(typedMicros / rawMicros)")
        }
    }
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
        let envelope = Array(#"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{},"delegate":{},"trace":{"traceId":"ABCDEFGHIJKL1","spanId":"ABCDEFGHIJKL2","timestamp":1795779096735.123,"service":"math","method":"a:1,b:2,cmd:add,topic:math"},"request":{"id":"ABCDEFGHIJKL3","type":"request","service":"math","method":"a:1,b:2,cmd:add,topic:math"}}"#.utf8)
        start = clock.now
        for _ in 0..<n { _ = try JSONValue(parsing: envelope) }
        print("BENCH parse envelope: \((clock.now - start) / n)")
        let pattern: JSONValue = ["topic": "math", "cmd": "add", "a": 1, "b": 2]
        start = clock.now
        for _ in 0..<n { _ = try HemeraJSONDecoder().decode(Add.self, from: pattern) }
        print("BENCH decode Add from JSONValue: \((clock.now - start) / n)")
        start = clock.now
        for _ in 0..<n { _ = try HemeraJSONDecoder().decode(Add.self, from: Array(#"{"a":1,"b":2}"#.utf8)) }
        print("BENCH decode Add from bytes: \((clock.now - start) / n)")
        start = clock.now
        for _ in 0..<n { await Task { }.value }
        print("BENCH task hop: \((clock.now - start) / n)")
    }
}
