@testable import Hemera
import HemeraJSON
import HemeraLocks
import Testing

/// A request pattern's integer one below `Int64.min` is a typed error on every path (issue 11):
/// the request parser reads it as the double of `Int64.min`, which the fast flat decoder used to
/// take for `Int64.min` itself.
@Suite(.timeLimit(.minutes(1))) struct PatternIntegerBounds {
    struct Wide: Codable { var a: Int64; var b: Int64 }

    @Test func everyDecodingPathRejectsIt() throws {
        for text in ["-9223372036854775809", "-9.223372036854775809e18", "9223372036854775808"] {
            let payload = Array(#"{"topic":"math","cmd":"add","a":\#(text),"b":1}"#.utf8)
            let value = try EnvelopeParser.parse(payload)
            #expect(throws: (any Error).self, "\(text)") { try FlatValueDecoder.decode(Wide.self, from: value) }
            let received = ReceivedPattern(value: value, payload: payload, range: 0..<payload.count)
            #expect(throws: ValidationFailure.self, "\(text)") {
                _ = try decodeValidated(Wide.self, from: received, mode: .strict)
            }
            // Without the bytes (the tree alone) too.
            let tree = ReceivedPattern(value: value, payload: payload, range: nil)
            #expect(throws: ValidationFailure.self, "\(text)") {
                _ = try decodeValidated(Wide.self, from: tree, mode: .strict)
            }
        }
        // Int64.min itself is fine.
        let payload = Array(#"{"a":-9223372036854775808,"b":1}"#.utf8)
        let received = ReceivedPattern(
            value: try EnvelopeParser.parse(payload),
            payload: payload,
            range: 0..<payload.count
        )
        #expect(try decodeValidated(Wide.self, from: received, mode: .strict).a == .min)
    }

    @Test(arguments: allKinds) func aServiceAnswersWithAValidationError(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await env.hemera()
            let reached = Counter()
            try service.add(Add.self) { request, _ in
                reached.increment()
                return request.a + request.b
            }
            let client = try await env.hemera()
            // Written as -9.223372036854776e+18: an integer beyond Int64, whose double is Int64.min's.
            let error = await hemeraError {
                try await client.act([
                    "topic": "math", "cmd": "add", "a": .double(-9_223_372_036_854_775_809.0), "b": 0,
                ])
            }
            #expect(error?.name == .validation)
            #expect(
                error?.message.contains("expected an integer from") == true,
                "\(String(describing: error?.message))"
            )
            #expect(reached.count == 0)
        }
    }
}
