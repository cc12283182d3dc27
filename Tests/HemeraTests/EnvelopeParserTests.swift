@testable import Hemera
import Testing

@Suite struct EnvelopeParserTests {
    @Test func agreesWithTheJSONLayerOnTheCapture() throws {
        for message in CapturedMessage.all {
            #expect(try EnvelopeParser.parse(message.rawPayload) == JSONValue(parsing: message.rawPayload), "line \(message.line)")
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
        #expect(try EnvelopeParser.parse(Array(" { \"a\" : [ 1 , 2.0 , -0 , 1E2 ] } ".utf8)) == ["a": [1, 2.0, 0, 100.0]])
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
        let deep = Array(repeating: UInt8(ascii: "["), count: 10_000) + Array(repeating: UInt8(ascii: "]"), count: 10_000)
        #expect(throws: EnvelopeParser.Failure.self) { try EnvelopeParser.parse(deep) }
        let fine = Array(repeating: UInt8(ascii: "["), count: 100) + Array(repeating: UInt8(ascii: "]"), count: 100)
        #expect(throws: Never.self) { try EnvelopeParser.parse(fine) }
    }

    @Test func survivesRandomBytes() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]",:0123456789.eE+-truefalsn\u "#.utf8)
        for _ in 0..<5000 {
            let length = Int(generator.next(upperBound: UInt8(40)))
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))] }
            let ours = try? EnvelopeParser.parse(bytes)
            let theirs = try? JSONValue(parsing: bytes)
            if let ours, let theirs { #expect(sameJSON(ours, theirs), "\(String(decoding: bytes, as: UTF8.self))") }
            if ours != nil && theirs == nil || ours == nil && theirs != nil {
                // Disagreement on validity is allowed only for top-level scalars some parsers refuse.
                #expect(ours.map { if case .object = $0 { return false }; if case .array = $0 { return false }; return true } ?? true,
                        "\(String(decoding: bytes, as: UTF8.self))")
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
