import Hemera
import HemeraAppSupport
import Testing

@Suite("JSON text for people")
struct JSONTextTests {
    @Test("topic and cmd first, other keys sorted, numbers as JavaScript prints them")
    func compact() {
        let pattern: JSONValue = ["b": 2.0, "a": 0.5, "cmd": "add", "topic": "math", "list": [1, nil, true]]
        #expect(JSONText.render(pattern) == #"{"topic":"math","cmd":"add","a":0.5,"b":2,"list":[1,null,true]}"#)
    }

    @Test("escapes control characters and quotes")
    func escaping() {
        #expect(JSONText.render("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }

    @Test("pretty output, and error keys first")
    func prettyAndErrors() {
        #expect(JSONText.render(["x": [1], "e": [:]], pretty: true) == "{\n  \"e\": {},\n  \"x\": [\n    1\n  ]\n}")
        let error: JSONValue = ["hops": [], "code": "E", "message": "m", "name": "N"]
        #expect(
            JSONText.render(error, firstKeys: JSONText.errorKeys) == #"{"name":"N","message":"m","code":"E","hops":[]}"#
        )
    }

    @Test("the text parses back to the same value")
    func roundTrip() throws {
        let value: JSONValue = ["topic": "t", "n": -12, "f": 1.25, "s": "ü ✓", "o": ["k": [false]]]
        #expect(try JSONValue(parsing: Array(JSONText.render(value).utf8)) == value)
    }
}
