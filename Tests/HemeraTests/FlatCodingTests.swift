@testable import Hemera
import HemeraJSON
import Testing

/// The flat decoder of typed requests and replies returns what the reference decoder returns, and
/// refuses (for the caller to fall back) whatever is not an exact match; the flat reply encoder
/// writes JSON that decodes to the same value.
@Suite struct FlatCodingTests {
    struct Inner: Codable, Equatable { var x: Int; var tags: [String: Int] }
    struct Mixed: Codable, Equatable {
        var s: String
        var i: Int
        var d: Double
        var b: Bool
        var o: String?
        var u8: UInt8
        var inner: Inner?
        enum Kind: String, Codable { case a, b }
        var kind: Kind
    }

    func reference<T: Decodable>(_ type: T.Type, _ value: JSONValue) throws -> T {
        try HemeraJSONDecoder().decode(T.self, from: value)
    }

    @Test func agreesWithTheReferenceDecoder() throws {
        let values: [JSONValue] = [
            ["s": "a\"b", "i": 1, "d": 2, "b": true, "u8": 255, "kind": "a", "extra": [1, 2]],
            ["s": "", "i": -5, "d": 0.5, "b": false, "o": "x", "u8": 0, "kind": "b", "inner": ["x": 3, "tags": ["k": 1]]],
            ["s": "x", "i": 1, "d": 1.5, "b": true, "o": nil, "u8": 7, "kind": "a", "inner": nil],
            ["s": "x", "i": .double(3.0), "d": 1, "b": true, "u8": 7, "kind": "a"],
        ]
        for value in values {
            let flat = try FlatValueDecoder.decode(Mixed.self, from: value)
            #expect(flat == (try reference(Mixed.self, value)))
        }
    }

    @Test func refusesWhatIsNotAnExactMatch() {
        let refused: [JSONValue] = [
            ["s": 1, "i": 1, "d": 2, "b": true, "u8": 1, "kind": "a"],  // number for a string
            ["s": "x", "i": "9", "d": 2, "b": true, "u8": 1, "kind": "a"],  // string for a number
            ["s": "x", "i": 1.5, "d": 2, "b": true, "u8": 1, "kind": "a"],  // not an integer
            ["s": "x", "i": 1, "d": 2, "b": true, "u8": 256, "kind": "a"],  // out of range
            ["s": "x", "i": 1, "d": 2, "b": true, "u8": 1, "kind": "c"],  // not a case
            ["s": "x", "i": 1, "d": 2, "b": true, "kind": "a"],  // missing
            ["s": nil, "i": 1, "d": 2, "b": true, "u8": 1, "kind": "a"],  // null for a string
            [1, 2],
        ]
        for value in refused {
            #expect(throws: (any Error).self, "\(value)") { try FlatValueDecoder.decode(Mixed.self, from: value) }
        }
        // Arrays are left to the reference decoder.
        #expect(throws: (any Error).self) { try FlatValueDecoder.decode([Int].self, from: [1, 2]) }
    }

    @Test func typedRequestsKeepStrictValidationMessages() throws {
        struct Add: Codable { var a: Int; var b: Int }
        let payload = Array(#"{"topic":"math","a":"Hello","b":2}"#.utf8)
        let value = try EnvelopeParser.parse(payload)
        let received = ReceivedPattern(value: value, payload: payload, range: 0..<payload.count)
        #expect {
            _ = try decodeValidated(Add.self, from: received, mode: .strict)
        } throws: { error in
            (error as? ValidationFailure)?.issues.first?.message == #"a: expected a number, found the string "Hello""#
        }
        let coerced = ReceivedPattern(
            value: try EnvelopeParser.parse(Array(#"{"a":"9","b":2}"#.utf8)),
            payload: Array(#"{"a":"9","b":2}"#.utf8),
            range: 0..<15
        )
        #expect(try decodeValidated(Add.self, from: coerced, mode: .coerce).a == 9)
    }

    @Test func flatRepliesDecodeToTheSameValue() throws {
        let value = Mixed(s: "é\"\n", i: -3, d: 0.1, b: true, o: nil, u8: 9, inner: nil, kind: .b)
        let bytes = try encodeResult(value)
        #expect(try HemeraJSONDecoder().decode(Mixed.self, from: bytes) == value)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("\"o\""))
        // Nested values go through the encoder.
        let nested = Mixed(s: "", i: 0, d: 1, b: false, o: "o", u8: 0, inner: Inner(x: 1, tags: ["a": 1]), kind: .a)
        #expect(try HemeraJSONDecoder().decode(Mixed.self, from: try encodeResult(nested)) == nested)
        #expect(try encodeResult(42) == Array("42".utf8))
        #expect(try encodeResult("a") == Array("\"a\"".utf8))
        #expect(try encodeResult(true) == Array("true".utf8))
        #expect(try encodeResult(1.5) == Array("1.5".utf8))
    }
}
