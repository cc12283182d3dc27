@testable import Hemera
import Testing

struct Rich: HemeraPattern {
    static let topic = "rich"
    static let cmd: String? = "go"
    static let routingKeys: [String: JSONValue] = ["version": 2]
    typealias Reply = JSONValue
    var name: String
    var ratio: Double
    var whole: Double
    var flag: Bool
    var nested: [String: Int]
    var list: [Int]
    var missing: String?
}

struct Flat: HemeraPattern {
    static let topic = "flat"
    static let cmd: String? = "go"
    typealias Reply = Int
    var text: String
    var small: UInt8
    var ratio: Double
    var flag: Bool
    var big: Int64
    var maybe: String?
    var maybeNot: Int?
}

@Suite struct FastPathTests {
    @Test func flatStructsSkipTheJSONLayerAndMatchTheGeneralPath() throws {
        let value = Flat(
            text: "quote\" é\n",
            small: 7,
            ratio: 1e21,
            flag: false,
            big: 1 << 60,
            maybe: "x",
            maybeNot: nil
        )
        let flat = try #require(EncodedTypedPattern.flat(value))
        let slow = try Hemera(transport: InMemoryTransport()).typedPattern(value)
        #expect(try JSONValue(parsing: flat.bytes) == .object(slow.keys))
        #expect(flat.method == slow.method)
        #expect(
            flat.method
                == "big:1152921504606847000,cmd:go,flag:false,maybe:x,ratio:1e+21,small:7,text:quote\" é\n,topic:flat"
        )
        #expect(
            EncodedTypedPattern.flat(
                Rich(name: "a", ratio: 1, whole: 1, flag: true, nested: [:], list: [], missing: nil)
            ) == nil
        )
    }

    @Test func envelopeStartedByTheFlatPathMatchesTheOneWrittenAfterIt() throws {
        // A quote and a backslash in a `method` part: the method written from its parts, escaped
        // piece by piece and copied for its second occurrence, must read as the joined string.
        let value = Flat(text: "é \"ü\\", small: 7, ratio: 0.5, flag: true, big: -3, maybe: nil, maybeNot: 4)
        let hemera = Hemera(transport: InMemoryTransport())
        let fixed = EncodedTypedPattern.fixedPart(of: Flat.self)
        let flat = try #require(EncodedTypedPattern.flat(value, fixed: fixed))
        let meta: [String: JSONValue] = ["user": "ann", "n": [1, 2]]
        // The act path's envelope: the pattern written by the flat path, the rest after it, in
        // the thread's reusable encoder.
        let envelope = try #require(
            hemera.flatEnvelope(value, fixed: fixed, meta: meta, delegate: ["d": true], current: nil)
        )
        #expect(envelope.topic == "flat")
        let inPlace = try JSONValue(parsing: envelope.payload)
        let copied = try JSONValue(
            parsing:
                hemera.encodeEnvelope(
                    topic: flat.topic,
                    method: flat.method,
                    meta: meta,
                    delegate: ["d": true],
                    type: .request,
                    patternSize: flat.bytes.count,
                    current: nil
                ) { writer in writer.raw(flat.bytes) }
        )
        // Equal but for the fresh ids and the timestamp.
        for key in ["pattern", "meta", "delegate"] { #expect(inPlace[key] == copied[key], "\(key)") }
        for key in ["service", "method"] {
            #expect(inPlace["trace"]?[key] == copied["trace"]?[key], "trace.\(key)")
            #expect(inPlace["request"]?[key] == copied["request"]?[key], "request.\(key)")
        }
        #expect(inPlace["trace"]?["method"]?.stringValue == flat.method)
        #expect(flat.method.contains("text:é \"ü\\"))
        #expect(inPlace["request"]?["type"] == "request")
        #expect(inPlace.objectValue?.keys.sorted() == copied.objectValue?.keys.sorted())
        #expect(inPlace["trace"]?.objectValue?.keys.sorted() == copied["trace"]?.objectValue?.keys.sorted())
        #expect(
            hemera.flatEnvelope(
                Rich(name: "a", ratio: 1, whole: 1, flag: true, nested: [:], list: [], missing: nil),
                fixed: EncodedTypedPattern.fixedPart(of: Rich.self),
                meta: [:],
                delegate: [:],
                current: nil
            ) == nil
        )
    }

    @Test func typedPatternBytesMatchTheGeneralPath() throws {
        let value = Rich(name: "bob", ratio: 0.1, whole: 3, flag: true, nested: ["x": 1], list: [1, 2], missing: nil)
        let fast = try #require(EncodedTypedPattern(value))
        let hemera = Hemera(transport: InMemoryTransport())
        let slow = try hemera.typedPattern(value)
        #expect(try JSONValue(parsing: fast.bytes) == .object(slow.keys))
        #expect(fast.method == slow.method)
        #expect(fast.method == "cmd:go,flag:true,name:bob,ratio:0.1,topic:rich,version:2,whole:3")
    }

    @Test func escapesFallBackToTheGeneralPath() {
        let value = Rich(name: "a\"b", ratio: 1, whole: 1, flag: false, nested: [:], list: [], missing: "x")
        #expect(EncodedTypedPattern(value) == nil)
    }

    @Test func scannerReadsTopLevelPrimitivesOnly() throws {
        let members = try #require(
            scanTopLevelPrimitives(Array(#"{"a":1,"b":{"c":"}"},"d":[1,{"e":2}],"f":-2.50,"g":null,"h":"x"}"#.utf8))
        )
        #expect(members.map(\.key) == ["a", "f", "h"])
        #expect(members.map(\.value) == ["1", "-2.5", "x"])
        #expect(scanTopLevelPrimitives(Array("[1]".utf8)) == nil)
        #expect(scanTopLevelPrimitives(Array("{}".utf8))?.isEmpty == true)
    }
}
