@testable import Hemera
import HemeraJSON
import Testing

@Suite struct EnvelopeParserTests {
    @Test func agreesWithTheJSONLayerOnTheCapture() throws {
        for message in CapturedMessage.all {
            #expect(
                try EnvelopeParser.parse(message.rawPayload) == JSONValue(parsing: message.rawPayload),
                "line \(message.line)"
            )
        }
    }

    @Test func roundTripsEveryKindOfValue() throws {
        let samples: [JSONValue] = [
            nil, true, false, 0, -1, .integer(.max), .integer(.min), 0.5, -2.5e-8, 1e300, "", "plain",
            "quote\" backslash\\ slash/ \n\r\t\u{08}\u{0C} \u{01} é 日本 🎉", [], [1, [2, [3]]], [:],
            ["nested": ["a": [nil, true, "x"]], "": 1],
        ]
        for sample in samples {
            #expect(try EnvelopeParser.parse(sample.hemeraBytes) == sample)
        }
    }

    @Test func readsEscapesAndNumbersAsTheSpecSays() throws {
        #expect(try EnvelopeParser.parse(Array(#""\u00e9\ud83c\udf89\/""#.utf8)) == "é🎉/")
        #expect(
            try EnvelopeParser.parse(Array(" { \"a\" : [ 1 , 2.0 , -0 , 1E2 ] } ".utf8)) == ["a": [1, 2.0, -0.0, 100.0]]
        )
        #expect(try EnvelopeParser.parse(Array("9223372036854775808".utf8)) == .double(9223372036854775808))
        #expect(try EnvelopeParser.parse(Array(#"{"a":1,"a":2}"#.utf8)) == ["a": 2])
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "NaN",
        "\"unterminated", "\"bad \\x escape\"", "\"\\ud800\"", "\"\\udc00\"", "\"\u{01}\"", "[1] 2", "1e999",
        "{\"a\" 1}", "[1 2]", "\u{00}",
    ])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: EnvelopeParser.Failure.self) { try EnvelopeParser.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(throws: EnvelopeParser.Failure.self) { try EnvelopeParser.parse([0x22, 0xFF, 0xFE, 0x22]) }
        let deep =
            Array(repeating: UInt8(ascii: "["), count: 10_000) + Array(repeating: UInt8(ascii: "]"), count: 10_000)
        #expect(throws: EnvelopeParser.Failure.self) { try EnvelopeParser.parse(deep) }
        let fine = Array(repeating: UInt8(ascii: "["), count: 100) + Array(repeating: UInt8(ascii: "]"), count: 100)
        #expect(throws: Never.self) { try EnvelopeParser.parse(fine) }
    }

    @Test func requestEnvelopesKeepTraceAndRequestAsValidatedBytes() throws {
        let text =
            #"{"pattern":{"topic":"a"},"trace":{"traceId":"T","x":[1,{"y":"\u00e9"}]},"request":{"id":"R"},"meta":{}}"#
        let bytes = Array(text.utf8)
        let envelope = try #require(try EnvelopeParser.parseRequestEnvelope(bytes))
        #expect(envelope.members["pattern"] == ["topic": "a"])
        #expect(envelope.members["meta"] == [:])
        #expect(envelope.members["trace"] == nil)
        let trace = try #require(envelope.trace)
        let request = try #require(envelope.request)
        #expect(String(decoding: bytes[trace], as: UTF8.self) == #"{"traceId":"T","x":[1,{"y":"\u00e9"}]}"#)
        #expect(String(decoding: bytes[request], as: UTF8.self) == #"{"id":"R"}"#)
        #expect(try EnvelopeParser.parse(bytes, range: trace)["x"]?[1]?["y"] == "é")
        #expect(try EnvelopeParser.parseRequestEnvelope(Array("[1]".utf8)) == nil)
        for bad in [
            #"{"trace":{"a":"\x"}}"#, #"{"trace":{"a":"\#u{01}"}}"#, #"{"trace":{"a":1,}}"#,
            #"{"request":{"a":"\ud800"}}"#,
            #"{"trace":{"a":01}}"#, #"{"trace":{"a" 1}}"#, #"{"trace":{}} x"#,
        ] {
            #expect(throws: EnvelopeParser.Failure.self, "\(bad)") {
                try EnvelopeParser.parseRequestEnvelope(Array(bad.utf8))
            }
        }
        var invalidUTF8 = Array(#"{"trace":{"a":"#.utf8)
        invalidUTF8 += [0x22, 0xC3, 0x28, 0x22, 0x7D, 0x7D]
        #expect(throws: EnvelopeParser.Failure.self) { try EnvelopeParser.parseRequestEnvelope(invalidUTF8) }
        // Every captured request: the kept bytes are the objects the JSON layer sees.
        for message in CapturedMessage.all where message.isRequest {
            let envelope = try #require(try EnvelopeParser.parseRequestEnvelope(message.rawPayload))
            #expect(
                try EnvelopeParser.parse(message.rawPayload, range: try #require(envelope.trace))
                    == message.payload["trace"]
            )
            #expect(
                try EnvelopeParser.parse(message.rawPayload, range: try #require(envelope.request))
                    == message.payload["request"]
            )
        }
    }

    @Test func mutatedCapturedRequestsAreAcceptedExactlyWhenValid() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]",:0123456789.eE+-\u "#.utf8) + [0x01, 0xC3, 0xFF]
        let requests = CapturedMessage.all.filter(\.isRequest).map(\.rawPayload)
        for round in 0..<4000 {
            var bytes = requests[round % requests.count]
            for _ in 0..<Int(generator.next(upperBound: UInt8(3)) + 1) {
                let position = Int(generator.next(upperBound: UInt32(bytes.count)))
                bytes[position] = alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))]
            }
            let full = (try? EnvelopeParser.parse(bytes)) != nil
            let theirs = (try? JSONValue(parsing: bytes)) != nil
            var envelope = true
            do { _ = try EnvelopeParser.parseRequestEnvelope(bytes) } catch { envelope = false }
            #expect(envelope == full, "\(String(decoding: bytes, as: UTF8.self))")
            #expect(full == theirs, "\(String(decoding: bytes, as: UTF8.self))")
        }
    }

    @Test func survivesRandomBytes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]",:0123456789.eE+-truefalsn\u "#.utf8)
        for _ in 0..<5000 {
            let length = Int(generator.next(upperBound: UInt8(40)))
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] }
            let ours = try? EnvelopeParser.parse(bytes)
            let theirs = try? JSONValue(parsing: bytes)
            // The envelope mode accepts exactly the objects the full parser accepts.
            let envelopeAccepts: Bool
            do {
                _ = try EnvelopeParser.parseRequestEnvelope(bytes)
                envelopeAccepts = true
            } catch {
                envelopeAccepts = false
            }
            #expect(envelopeAccepts == (ours != nil), "\(String(decoding: bytes, as: UTF8.self))")
            if let ours, let theirs { #expect(sameJSON(ours, theirs), "\(String(decoding: bytes, as: UTF8.self))") }
            if let accepted = ours ?? theirs, (ours == nil) != (theirs == nil) {
                // Disagreement on validity is allowed only for top-level scalars some parsers refuse,
                // whichever of the two parsers accepted the input.
                let isContainer: Bool
                switch accepted {
                case .object, .array: isContainer = true
                default: isContainer = false
                }
                #expect(!isContainer, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }
}

/// Equality where numbers compare by value (parsers differ on whether `1e2` is an integer).
func sameJSON(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.object(let x), .object(let y)):
        return x.count == y.count && x.allSatisfy { key, value in y[key].map { sameJSON(value, $0) } ?? false }
    case (.array(let x), .array(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { sameJSON($0, $1) }
    default:
        return patternValuesEqual(a, b)
    }
}
