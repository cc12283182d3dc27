import HemeraJSON
import Testing

/// The reply-envelope skimmer of typed calls: where `result` is, the non-null `error`, and the
/// same strictness as the request-envelope parser.
@Suite struct ReplyEnvelopeParserTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func resultRangeAndNullError() throws {
        let text = #"{"meta":{},"trace":{"a":1},"request":{"id":"x"},"result":{"data":"xx","size":2},"error":null}"#
        let input = bytes(text)
        let envelope = try #require(try EnvelopeParser.parseReplyEnvelope(input))
        let range = try #require(envelope.result)
        #expect(String(decoding: input[range], as: UTF8.self) == #"{"data":"xx","size":2}"#)
        #expect(envelope.error == nil)
    }

    @Test func errorKeptAndEscapedKeys() throws {
        let input = bytes(#"{"res\u0075lt":3,"\u0065rror":{"name":"E","message":"m"}}"#)
        let envelope = try #require(try EnvelopeParser.parseReplyEnvelope(input))
        #expect(envelope.result.map { String(decoding: input[$0], as: UTF8.self) } == "3")
        #expect(envelope.error?["name"]?.stringValue == "E")
    }

    @Test func absentResultLastDuplicateWinsAndNonObjects() throws {
        let absent = try #require(try EnvelopeParser.parseReplyEnvelope(bytes(#"{"error":null}"#)))
        #expect(absent.result == nil && absent.error == nil)
        let input = bytes(#"{"result":1,"result":[2],"error":{"name":"E"},"error":null}"#)
        let duplicate = try #require(try EnvelopeParser.parseReplyEnvelope(input))
        #expect(duplicate.result.map { String(decoding: input[$0], as: UTF8.self) } == "[2]")
        #expect(duplicate.error == nil)
        #expect(try EnvelopeParser.parseReplyEnvelope(bytes("[1]")) == nil)
    }

    @Test func rejectsWhatTheRequestParserRejects() {
        for text in ["", "{", #"{"result":"#, #"{"result":1"#, #"{"result":1,}"#, #"{"result":01}"#, "{} x",
                     #"{"meta":{]}"#, #"{"result":"\x"}"#, #"{"error":nul}"#] {
            #expect(throws: EnvelopeParser.Failure.self, "\(text)") { try EnvelopeParser.parseReplyEnvelope(bytes(text)) }
        }
    }

    @Test func skippedNumbersAreValidatedAsBefore() throws {
        for text in [#"{"meta":01}"#, #"{"meta":1.}"#, #"{"meta":-}"#, #"{"meta":1e400}"#, #"{"meta":-1e}"#,
                     #"{"trace":{"timestamp":.5}}"#, #"{"trace":{"timestamp":1e999}}"#] {
            #expect(throws: EnvelopeParser.Failure.self, "\(text)") { try EnvelopeParser.parseReplyEnvelope(bytes(text)) }
            #expect(throws: EnvelopeParser.Failure.self, "\(text)") { try EnvelopeParser.parseRequestEnvelope(bytes(text)) }
        }
        let long = String(repeating: "9", count: 250)  // below Double's range: accepted
        for text in [#"{"meta":1e5,"result":2}"#, #"{"trace":{"timestamp":1764260000123.456},"result":2}"#,
                     #"{"meta":-0.0,"result":2}"#, "{\"meta\":\(long),\"result\":2}"] {
            #expect(try EnvelopeParser.parseReplyEnvelope(bytes(text))?.result != nil, "\(text)")
            #expect(try EnvelopeParser.parseRequestEnvelope(bytes(text)) != nil, "\(text)")
        }
        // Beyond Double's range: rejected, with or without an exponent, as `number()` does.
        for tooLarge in [String(repeating: "9", count: 400), String(repeating: "9", count: 400) + "e0"] {
            #expect(throws: EnvelopeParser.Failure.self) {
                try EnvelopeParser.parseReplyEnvelope(bytes("{\"meta\":\(tooLarge)}"))
            }
        }
    }
}
