import Hemera
import Testing

@Suite struct PatternUnitTests {
    @Test func shortFormTypes() {
        let pattern: Pattern =
            "topic:math, cmd:add,a:1,b:2.5,flag:true,off:false,name:bob,n:1e3x,hex:0x10,inf:inf,big:1e3"
        #expect(pattern.keys["topic"] == "math")
        #expect(pattern.keys["cmd"] == "add")
        #expect(pattern.keys["a"] == .integer(1))
        #expect(pattern.keys["b"] == .double(2.5))
        #expect(pattern.keys["flag"] == .bool(true))
        #expect(pattern.keys["off"] == .bool(false))
        #expect(pattern.keys["name"] == "bob")
        #expect(pattern.keys["n"] == "1e3x")
        #expect(pattern.keys["hex"] == "0x10")
        #expect(pattern.keys["inf"] == "inf")
        #expect(pattern.keys["big"] == .double(1000))
    }

    @Test func controlOptionsAreNotWireKeys() {
        let pattern: Pattern = ["topic": "a", "timeout$": 100, "pubsub$": true]
        #expect(pattern.keys.keys.sorted() == ["topic"])
        #expect(pattern.options["timeout"] == .integer(100))
        #expect(pattern.options["pubsub"] == .bool(true))
    }

    @Test func methodStringMatchesHemera() {
        let pattern: Pattern = ["topic": "math", "cmd": "add", "a": 1, "b": 2, "nested": ["x": 1], "list": [1]]
        #expect(pattern.method == "a:1,b:2,cmd:add,topic:math")
        let floats: Pattern = [
            "topic": "t", "x": 1.0, "y": 0.1, "z": 1e21, "w": 1e-7, "v": 123456789012345680000.0, "u": false,
        ]
        #expect(floats.method == "topic:t,u:false,v:123456789012345680000,w:1e-7,x:1,y:0.1,z:1e+21")
    }

    @Test(arguments: [
        (1.0, "1"), (0.1, "0.1"), (-2.5, "-2.5"), (1e21, "1e+21"), (1.5e-7, "1.5e-7"), (0.000001, "0.000001"),
        (123.456, "123.456"), (1e16, "10000000000000000"), (Double.leastNonzeroMagnitude, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ])
    func javaScriptNumbers(value: Double, expected: String) {
        #expect(Pattern(["topic": "t", "n": .double(value)]).method == "n:\(expected),topic:t")
    }

    @Test func errorDecodingIsLenientAndKeepsUnknownFields() {
        let error = HemeraError(wire: [
            "name": "Unauthorized", "message": "no", "code": "E_AUTH", "statusCode": 401,
            "hops": [["service": "math", "method": "cmd:x", "app": "svc", "ts": 1.5]],
        ])
        #expect(error.name == "Unauthorized")
        #expect(error.code == "E_AUTH")
        #expect(error.extra["statusCode"] == .integer(401))
        #expect(error.hops == [.init(service: "math", method: "cmd:x", app: "svc", ts: 1.5)])
        let empty = HemeraError(wire: ["weird": true])
        #expect(empty.name == .internalError)
        #expect(empty.extra["weird"] == .bool(true))
        #expect(error.wire()["stack"] == nil)
    }
}

@Suite struct ShortFormQuotingTests {
    @Test func quotedValuesAreStringsWithoutTheirQuotes() {
        let pattern = Pattern(short: #"topic:inventory,sku:"001",name:'a, b',say:"he said \"hi\"",n:001,open:"x,y:2"#)
        #expect(pattern.keys["sku"] == "001")
        #expect(pattern.keys["name"] == "a, b")
        #expect(pattern.keys["say"] == #"he said "hi""#)
        #expect(pattern.keys["n"] == 1)
        #expect(pattern.keys["open"] == #""x"#)  // an unclosed quote: the text up to the comma
        #expect(pattern.keys["y"] == 2)
        #expect(pattern.topic == "inventory")
    }
}
