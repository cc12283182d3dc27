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

@Suite struct FastPathTests {
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
