import HemeraJSON
import Testing

/// Issue 14, item 6: a JSONValue prints as JSON text, not as nested enum cases.
@Suite struct JSONValueDescriptionTests {
    @Test func printsAsCompactJSONWithSortedKeys() {
        let value: JSONValue = [
            "topic": "inventory", "sku": "001", "count": 3, "price": 0.1, "tags": ["a", "b\"c"], "gone": nil,
            "ok": true, "nested": ["z": 1, "a": [:]],
        ]
        let expected =
            #"{"count":3,"gone":null,"nested":{"a":{},"z":1},"ok":true,"price":0.1,"sku":"001","tags":["a","b\"c"],"topic":"inventory"}"#
        #expect(value.description == expected)
        #expect("\(value)" == expected)
        #expect(String(reflecting: value) == expected)
        #expect(JSONValue.string("E_AUTH").description == #""E_AUTH""#)
        #expect(JSONValue.double(1e21).description == "1e+21")
    }
}
