import Testing

@testable import Hemera

/// A request type with every shape the schema derivation knows.
private struct Order: HemeraPattern, HemeraValidatable {
    static let topic = "shop"
    static let cmd: String? = "order"
    static let routingKeys: [String: JSONValue] = ["version": 2]
    typealias Reply = Int

    enum Size: String, Codable, CaseIterable, Sendable { case small, large }
    struct Address: Codable, Sendable {
        var street: String
        var zip: Int32?
    }

    var quantity: Int
    var price: Double
    var note: String?
    var tags: [String]
    var size: Size
    var address: Address
    var extras: [String: Int]
    var any: JSONValue
    var small: UInt8
    var code: String

    static let rules: [ValidationRule<Order>] = [
        .range("quantity", \.quantity, 1...10),
        .range("price", \.price, 0.5...99.5),
        .length("tags", \.tags, 0...3),
        .length("code", \.code, 2...8),
        .pattern("code", \.code, regex: "^[A-Z]+$"),
        .oneOf("quantity", \.quantity, [1, 2, 5, 10]),
        ValidationRule(field: "price", schema: ["rule": "custom-check"]) { _ in nil },
    ]
}

@Suite("Request schemas from Codable types and rules")
struct RequestSchemaTests {
    @Test func derivesTypesRequiredAndRoutingConstants() {
        let schema = Order.requestSchema
        #expect(schema["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema["title"] == "Order")
        #expect(schema["type"] == "object")
        let properties = schema["properties"]
        #expect(properties?["topic"] == ["const": "shop"])
        #expect(properties?["cmd"] == ["const": "order"])
        #expect(properties?["version"] == ["const": 2])
        #expect(
            schema["required"]
                == [
                    "topic", "cmd", "version", "quantity", "price", "tags", "size", "address", "extras", "any", "small",
                    "code",
                ]
        )
        #expect(properties?["note"] == ["type": ["string", "null"]])
        #expect(properties?["tags"] == ["type": "array", "items": ["type": "string"], "minItems": 0, "maxItems": 3])
        #expect(properties?["size"] == ["type": "string", "enum": ["small", "large"]])
        #expect(
            properties?["address"] == [
                "type": "object",
                "properties": [
                    "street": ["type": "string"],
                    "zip": ["type": ["integer", "null"], "minimum": -2_147_483_648, "maximum": 2_147_483_647],
                ],
                "required": ["street"],
            ]
        )
        #expect(
            properties?["extras"] == [
                "type": "object",
                "additionalProperties": [
                    "type": "integer", "minimum": .integer(Int64.min), "maximum": .integer(Int64.max),
                ],
            ]
        )
        #expect(properties?["any"] == [:])
        #expect(properties?["small"] == ["type": "integer", "minimum": 0, "maximum": 255])
    }

    @Test func rulesBecomeKeywords() {
        let properties = Order.requestSchema["properties"]
        #expect(properties?["quantity"] == ["type": "integer", "minimum": 1, "maximum": 10, "enum": [1, 2, 5, 10]])
        #expect(
            properties?["price"] == [
                "type": "number", "minimum": 0.5, "maximum": 99.5, "x-hemera-rules": [["rule": "custom-check"]],
            ]
        )
        #expect(
            properties?["code"] == ["type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[A-Z]+$"]
        )
    }

    @Test func coercionAllowsNumericStrings() {
        let properties = Order.requestSchema(validation: .coerce)["properties"]
        #expect(properties?["quantity"]?["type"] == ["integer", "string"])
        #expect(properties?["price"]?["type"] == ["number", "string"])
        #expect(properties?["code"]?["type"] == "string")
    }

    @Test func untypedActionsPublishTheirFixedKeys() async throws {
        let hemera = Hemera(transport: InMemoryTransport())
        try hemera.add(try Pattern("topic:math,cmd:add").matching("op", regex: "^a")) { _, _ in .null }
        let schema = try #require(hemera.actions.first?.requestSchema)
        #expect(
            schema == [
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "properties": [
                    "topic": ["const": "math"], "cmd": ["const": "add"], "op": ["type": "string", "pattern": "^a"],
                ],
                "required": ["topic", "cmd", "op"],
            ]
        )
        await hemera.close()
    }

    @Test func canonicalTextSortsKeys() {
        #expect(
            sortedJSONText(["b": 1, "a": ["d": true, "c": [1.5, "x"]]]) == #"{"a":{"c":[1.5,"x"],"d":true},"b":1}"#
        )
    }
}
