import HemeraJSON
import Testing

/// The facade's envelope parser (package API of this layer) on hostile input: everything the decoder
/// rejects as invalid JSON, it rejects too; it never traps; nesting is bounded.
@Suite struct EnvelopeParserHostileInput {
    func rejects(_ input: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: EnvelopeParser.Failure.self, "\(input.prefix(40))", sourceLocation: sourceLocation) {
            try EnvelopeParser.parse(input)
        }
        #expect(throws: EnvelopeParser.Failure.self, "\(input.prefix(40))", sourceLocation: sourceLocation) {
            try EnvelopeParser.parseRequestEnvelope(input)
        }
    }

    @Test func invalidAndTruncated() {
        for input in ["", "{", #"{"a":"#, #"{"a":1"#, "[1,2", #""abc"#, "tru", "nul", "{} x", "[1,]", "{'a':1}",
                      "01", "1.", "-", "NaN", "Infinity", #"{"a" 1}"#, "\u{FEFF}{}", "/* c */ {}", #"{"a":1,}"#,
                      #"{"trace":{"a":1}"#, #"{"request":{"#, #"{"trace":{]}"#, "\"\\x\"", "\"\\u12\"", "1e", "-01"] {
            rejects(bytes(input))
        }
    }

    @Test func invalidUTF8AndControlCharacters() {
        for input: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
                               [0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D], [0xFE], [0x22, 0x61, 0x00, 0x22],
                               [0x22, 0x0A, 0x22]] {
            rejects(input)
        }
        rejects(bytes(#""\ud800""#))
        rejects(bytes(#""\udc00\ud800""#))
    }

    @Test func nestingIsBounded() {
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        rejects(deep)
        let tooDeep = bytes(String(repeating: "[", count: EnvelopeParser.maxDepth + 2) + String(repeating: "]", count: EnvelopeParser.maxDepth + 2))
        rejects(tooDeep)
        let fine = bytes(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))
        #expect(throws: Never.self) { try EnvelopeParser.parse(fine) }
    }

    @Test func agreesWithJansson() throws {
        for text in [#"{"a":[1,2.5,-0,1E2,true,false,null],"b":{"c":"é\n\u00e9\ud83c\udf89"}}"#, "[]", "{}", "0",
                     #""\u0000""#, "-9223372036854775808", "9223372036854775807", "1.7976931348623157e308"] {
            #expect(try EnvelopeParser.parse(bytes(text)) == JSONValue(parsing: bytes(text)), "\(text)")
        }
    }

    @Test func keptRangesOfARequestEnvelope() throws {
        let input = bytes(#"{"pattern":{"topic":"a"},"trace":{"x":[1,{"y":"é"}]},"request":{"id":"1"}}"#)
        let envelope = try #require(try EnvelopeParser.parseRequestEnvelope(input))
        #expect(try EnvelopeParser.parse(input, range: try #require(envelope.trace)) == ["x": [1, ["y": "é"]]])
        #expect(try EnvelopeParser.parse(input, range: try #require(envelope.request)) == ["id": "1"])
        #expect(try EnvelopeParser.parseRequestEnvelope(bytes("[1]")) == nil)
    }

    /// `pattern`, `meta` and `delegate` are found from their keys' bytes (escaped spellings too),
    /// the last duplicate wins, and every other member is kept by its key.
    @Test func knownMembersAreFoundByTheirKeysBytes() throws {
        let input = bytes(
            #"{"meta":{"a":1},"pat\u0074ern":{"topic":"t"},"delegate":{"d":true},"trace":"x","x":[1],"#
                + #""meta":{"b":2},"deleg":0,"requesT":1,"trace":{"s":1}}"#
        )
        let envelope = try #require(try EnvelopeParser.parseRequestEnvelope(input))
        #expect(envelope.patternValue == ["topic": "t"])
        #expect(envelope.meta == ["b": 2])
        #expect(envelope.delegate == ["d": true])
        #expect(envelope.others == ["x": [1], "deleg": 0, "requesT": 1])
        #expect(try EnvelopeParser.parse(input, range: try #require(envelope.pattern)) == ["topic": "t"])
        #expect(try EnvelopeParser.parse(input, range: try #require(envelope.trace)) == ["s": 1])
        #expect(envelope.request == nil)
        #expect(
            envelope.members == [
                "pattern": ["topic": "t"], "meta": ["b": 2], "delegate": ["d": true], "x": [1], "deleg": 0, "requesT": 1,
            ]
        )

        // A `trace` that is not an object is a member like any other; a later object replaces it.
        let stringTrace = try #require(try EnvelopeParser.parseRequestEnvelope(bytes(#"{"trace":"x","request":7}"#)))
        #expect(stringTrace.trace == nil && stringTrace.request == nil)
        #expect(stringTrace.others == ["trace": "x", "request": 7])
        #expect(stringTrace.patternValue == nil && stringTrace.meta == nil && stringTrace.delegate == nil)
        // A `pattern` that is not an object keeps its value but no range.
        let scalarPattern = try #require(try EnvelopeParser.parseRequestEnvelope(bytes(#"{"pattern":{"a":1},"pattern":3}"#)))
        #expect(scalarPattern.patternValue == 3)
        #expect(scalarPattern.pattern == nil)
    }
}
