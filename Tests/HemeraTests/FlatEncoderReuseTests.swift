@testable import Hemera
import HemeraJSON
import Testing

/// Another flat pattern, with other coding keys than `Flat`'s.
private struct Other: HemeraPattern {
    static let topic = "other"
    static let cmd: String? = "do"
    typealias Reply = Int
    var id: Int
    var label: String
}

/// A pattern whose `encode(to:)` encodes another pattern through the flat path while the thread's
/// reusable encoder is lent out to it.
private struct Reentrant: HemeraPattern {
    static let topic = "reentrant"
    static let cmd: String? = "go"
    typealias Reply = Int
    var inner: Other
    enum CodingKeys: String, CodingKey { case method }
    init(inner: Other) { self.inner = inner }
    init(from decoder: any Decoder) throws { inner = Other(id: 0, label: "") }
    func encode(to encoder: any Encoder) throws {
        let nested = try #require(EncodedTypedPattern.flat(inner))
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(nested.method, forKey: .method)
    }
}

/// Each thread lends out one reusable flat encoder (`FlatPatternEncoder.reusable`): reset between
/// uses, a fresh one while it is lent out, its kept containers per coding-key type, its writer
/// dropped after a large document.
@Suite struct FlatEncoderReuseTests {
    @Test func theThreadsEncoderIsReusedAndFreshWhileLentOut() {
        let first = FlatPatternEncoder.reusable(capacity: 128)
        let second = FlatPatternEncoder.reusable(capacity: 128)
        #expect(first !== second)
        second.finish()
        first.finish()
        let again = FlatPatternEncoder.reusable(capacity: 128)
        #expect(again === first)
        #expect(again.writer.count == 0 && again.parts.isEmpty && again.count == 0 && !again.failed)
        again.finish()
    }

    @Test func patternsOfDifferentKeyTypesInTurn() throws {
        let fixed = EncodedTypedPattern.fixedPart(of: Flat.self)
        let flat = Flat(text: "a", small: 1, ratio: 0.25, flag: false, big: 9, maybe: "m", maybeNot: nil)
        for round in 0..<3 {
            let a = try #require(EncodedTypedPattern.flat(flat, fixed: fixed))
            let b = try #require(EncodedTypedPattern.flat(Other(id: round, label: "x\(round)")))
            #expect(
                try JSONValue(parsing: a.bytes)
                    == [
                        "topic": "flat", "cmd": "go", "text": "a", "small": 1, "ratio": 0.25, "flag": false,
                        "big": 9, "maybe": "m",
                    ]
            )
            #expect(try JSONValue(parsing: b.bytes) == ["topic": "other", "cmd": "do", "id": .integer(Int64(round)), "label": .string("x\(round)")])
            #expect(b.method == "cmd:do,id:\(round),label:x\(round),topic:other")
        }
    }

    @Test func aPatternThatEncodesAnotherWhileLentOut() throws {
        let encoded = try #require(EncodedTypedPattern.flat(Reentrant(inner: Other(id: 7, label: "in"))))
        #expect(try JSONValue(parsing: encoded.bytes)["method"] == "cmd:do,id:7,label:in,topic:other")
        #expect(encoded.method == "cmd:go,method:cmd:do,id:7,label:in,topic:other,topic:reentrant")
    }

    @Test func aLargeDocumentsBufferIsNotKept() throws {
        let large = Other(id: 1, label: String(repeating: "x", count: 40_000))
        let encoded = try #require(EncodedTypedPattern.flat(large))
        #expect(encoded.bytes.count > 40_000)
        let next = FlatPatternEncoder.reusable(capacity: 128)
        defer { next.finish() }
        #expect(next.writer.capacity <= 16 * 1024)
    }
}

/// `IDGenerator.writeNext` writes, quoted, the text `next()` makes: the process's prefix and the
/// counter in upper-case base 36 (it builds the bytes itself, without a `String`).
@Suite struct IDGeneratorTests {
    @Test func writtenIDsReadAsNextOnes() {
        for _ in 0..<2_000 {
            let made = IDGenerator.next()
            var writer = JSONWriter()
            IDGenerator.writeNext(to: &writer)
            let written = String(decoding: writer.bytes, as: UTF8.self)
            #expect(written.hasPrefix("\"") && written.hasSuffix("\""))
            let text = written.dropFirst().dropLast()
            #expect(text.prefix(12) == made.prefix(12))
            let digits = String(text.dropFirst(12))
            #expect(!digits.isEmpty && digits == digits.uppercased() && !digits.hasPrefix("0"))
            // Other tests make ids at the same time: later than `made`'s, not necessarily next.
            let value = UInt64(digits, radix: 36)
            let previous = UInt64(made.dropFirst(12), radix: 36)
            #expect(value != nil && previous != nil && value! > previous!)
        }
    }
}
