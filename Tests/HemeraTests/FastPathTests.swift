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
        let value = Flat(text: "quote\" é\n", small: 7, ratio: 1e21, flag: false, big: 1 << 60, maybe: "x", maybeNot: nil)
        let flat = try #require(EncodedTypedPattern.flat(value))
        let slow = try Hemera(transport: InMemoryTransport()).typedPattern(value)
        #expect(try JSONValue(parsing: flat.bytes) == .object(slow.keys))
        #expect(flat.method == slow.method)
        #expect(flat.method == "big:1152921504606847000,cmd:go,flag:false,maybe:x,ratio:1e+21,small:7,text:quote\" é\n,topic:flat")
        #expect(EncodedTypedPattern.flat(Rich(name: "a", ratio: 1, whole: 1, flag: true, nested: [:], list: [], missing: nil)) == nil)
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
        let members = try #require(scanTopLevelPrimitives(Array(#"{"a":1,"b":{"c":"}"},"d":[1,{"e":2}],"f":-2.50,"g":null,"h":"x"}"#.utf8)))
        #expect(members.map(\.key) == ["a", "f", "h"])
        #expect(members.map(\.value) == ["1", "-2.5", "x"])
        #expect(scanTopLevelPrimitives(Array("[1]".utf8)) == nil)
        #expect(scanTopLevelPrimitives(Array("{}".utf8))?.isEmpty == true)
    }
}
