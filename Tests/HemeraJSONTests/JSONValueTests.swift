import Foundation
import HemeraJSON
import Testing

@Suite struct JSONValueTests {
    let document: JSONValue = [
        "s": "text", "i": 42, "d": 1.5, "t": true, "n": nil, "a": [1, "two", [3]], "o": ["k": ["deep": -7]],
    ]

    @Test func parseAndSerializeRoundTrip() throws {
        let bytes = try document.serialized()
        #expect(try JSONValue(parsing: bytes) == document)
        #expect(try HemeraJSONDecoder().decode(JSONValue.self, from: bytes) == document)
    }

    @Test func subscriptsAndAccessors() {
        #expect(document["o"]?["k"]?["deep"]?.integerValue == -7)
        #expect(document["a"]?[1]?.stringValue == "two")
        #expect(document["a"]?[9] == nil)
        #expect(document["n"]?.isNull == true)
        #expect(document["d"]?.doubleValue == 1.5)
    }

    @Test func codableThroughFoundation() throws {
        let data = try JSONEncoder().encode(document)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == document)
        #expect(try JSONValue(parsing: Array(data)) == document)
    }

    @Test func insideTypedValues() throws {
        struct Envelope: Codable, Equatable { var id: Int; var payload: JSONValue; var extra: JSONValue? }
        let envelope = Envelope(id: 1, payload: document, extra: nil)
        let bytes = try HemeraJSONEncoder().encode(envelope)
        #expect(try HemeraJSONDecoder().decode(Envelope.self, from: bytes) == envelope)
        try checkParity(envelope)
    }

    @Test func encodeToValueAndBack() throws {
        let value = try HemeraJSONEncoder().encodeToValue(sampleRequest)
        #expect(value["meta"]?["tags"] == ["x", "y"])
        #expect(try HemeraJSONDecoder().decode(AddRequest.self, from: value) == sampleRequest)
        // Wire form: an integral double is an integer on the wire.
        #expect(try HemeraJSONEncoder().encodeToValue(2.0) == .integer(2))
    }

    @Test func decodingFromValueReportsPaths() {
        do {
            _ = try HemeraJSONDecoder().decode(Add.self, from: ["a": 1, "b": "x"] as JSONValue)
            Issue.record("no error")
        } catch let error as DecodingError {
            #expect(JSONDecodingIssue(error).message == #"b: expected a number, found the string "x""#)
        } catch {
            Issue.record("\(error)")
        }
    }
}

@Suite struct PatternFlattening {
    @Test func mergeRoutingKeysIntoPayload() throws {
        let bytes = try HemeraJSONEncoder().encode(Add(a: 1, b: 2), merging: ["topic": "math", "cmd": "add"])
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"cmd":"add","topic":"math","a":1,"b":2}"#)
        #expect(try JSONValue(parsing: bytes) == ["topic": "math", "cmd": "add", "a": 1, "b": 2])
        // The receiver reads its payload and ignores the routing keys.
        #expect(try HemeraJSONDecoder().decode(Add.self, from: bytes) == Add(a: 1, b: 2))
        let value = try HemeraJSONEncoder().encodeToValue(Add(a: 1, b: 2), merging: ["topic": "math"])
        #expect(value == ["topic": "math", "a": 1, "b": 2])
        #expect(try HemeraJSONDecoder().decode(Add.self, from: value) == Add(a: 1, b: 2))
    }

    @Test func mergeIntoJSONValueAndSorted() throws {
        var encoder = HemeraJSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let bytes = try encoder.encode(["b": 2] as JSONValue, merging: ["a": 1])
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"a":1,"b":2}"#)
    }

    @Test func collisionsAndNonObjectsThrow() {
        #expect(throws: EncodingError.self) {
            try HemeraJSONEncoder().encode(Add(a: 1, b: 2), merging: ["a": 5])
        }
        #expect(throws: EncodingError.self) {
            try HemeraJSONEncoder().encode(["a": 1] as JSONValue, merging: ["a": 5])
        }
        #expect(throws: EncodingError.self) { try HemeraJSONEncoder().encode([1, 2], merging: ["a": 5]) }
        #expect(throws: EncodingError.self) { try HemeraJSONEncoder().encode(3, merging: ["a": 5]) }
    }
}
