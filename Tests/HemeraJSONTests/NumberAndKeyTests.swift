import HemeraJSON
import Testing

/// RFC 8259 values the jansson-based decoder got wrong (issue 11), on every path: the decoder,
/// `JSONValue(parsing:)`, decoding from a `JSONValue`, and the envelope parser.
@Suite struct NumberAndKeyCorrectness {
    struct Prices: Codable, Equatable {
        var price: Double
        var ratio: Float
        var list: [Double]
    }

    @Test func negativeZero() throws {
        let decoder = HemeraJSONDecoder()
        let double = try decoder.decode(Double.self, from: bytes("-0"))
        #expect(double == 0 && double.sign == .minus)
        let float = try decoder.decode(Float.self, from: bytes("-0"))
        #expect(float == 0 && float.sign == .minus)
        #expect(try decoder.decode(Double.self, from: bytes("-0.0")).sign == .minus)
        #expect(try decoder.decode(Double.self, from: bytes("-0e5")).sign == .minus)
        #expect(try decoder.decode(Double.self, from: bytes("0")).sign == .plus)
        let prices = try decoder.decode(Prices.self, from: bytes(#"{"price":-0,"ratio":-0,"list":[-0,0]}"#))
        #expect(prices.price.sign == .minus && prices.ratio.sign == .minus)
        #expect(prices.list.map(\.sign) == [.minus, .plus])
        // -0.0 round-trips: the encoder writes `-0`, the decoder reads -0.0.
        let encoded = try HemeraJSONEncoder().encode(-0.0)
        #expect(encoded == bytes("-0"))
        #expect(try decoder.decode(Double.self, from: encoded).sign == .minus)
        let again = try decoder.decode(
            Prices.self,
            from: HemeraJSONEncoder().encode(Prices(price: -0.0, ratio: -0.0, list: [-0.0]))
        )
        #expect(again.price.sign == .minus && again.ratio.sign == .minus && again.list[0].sign == .minus)
        // In a dynamic value, -0 is the double -0.0 (an integer has no sign of zero).
        for value in [
            try JSONValue(parsing: bytes("-0")), try decoder.decode(JSONValue.self, from: bytes("-0")),
            try EnvelopeParser.parse(bytes("-0")),
        ] {
            guard case .double(let number) = value else {
                Issue.record("\(value)")
                continue
            }
            #expect(number == 0 && number.sign == .minus)
        }
        // Integer targets read -0 as 0.
        #expect(try decoder.decode(Int.self, from: bytes("-0")) == 0)
        #expect(try decoder.decode(UInt8.self, from: bytes("-0")) == 0)
    }

    @Test(arguments: [
        ("123456789012345680000", 1.2345678901234568e20), ("100000000000000000000", 1e20),
        ("-100000000000000000000", -1e20), ("18446744073709551616", 18446744073709551616.0),
    ])
    func largeIntegerTextIsADouble(_ text: String, _ expected: Double) throws {
        let decoder = HemeraJSONDecoder()
        #expect(try decoder.decode(Double.self, from: bytes(text)) == expected)
        #expect(try decoder.decode(Float.self, from: bytes(text)) == Float(expected))
        #expect(try decoder.decode([Double].self, from: bytes("[\(text),1]")) == [expected, 1])
        #expect(
            try decoder.decode(Prices.self, from: bytes(#"{"price":\#(text),"ratio":\#(text),"list":[\#(text)]}"#))
                == Prices(price: expected, ratio: Float(expected), list: [expected])
        )
        #expect(try decoder.decode(JSONValue.self, from: bytes(text)) == .double(expected))
        #expect(try JSONValue(parsing: bytes(text)) == .double(expected))
        #expect(try EnvelopeParser.parse(bytes(text)) == .double(expected))
        #expect(try JSONValue(parsing: bytes(#"{"x":[\#(text)]}"#)) == ["x": [.double(expected)]])
        // Integer targets: a typed error, not a neighbour.
        for attempt in [
            { _ = try decoder.decode(Int.self, from: bytes(text)) },
            { _ = try decoder.decode(Int64.self, from: bytes(text)) },
            { _ = try decoder.decode([Int].self, from: bytes("[\(text)]")) },
            { _ = try decoder.decode(UInt64.self, from: bytes(text)) },
        ] {
            do {
                try attempt()
                Issue.record("\(text) decoded into an integer type")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(context.debugDescription.contains("expected an integer from"), "\(context.debugDescription)")
                #expect(JSONDecodingIssue(DecodingError.dataCorrupted(context)).kind == .invalidValue)
            }
        }
    }

    @Test func integersAtAndBeyondTheEdges() throws {
        let decoder = HemeraJSONDecoder()
        #expect(try decoder.decode(Int64.self, from: bytes("-9223372036854775808")) == .min)
        #expect(try decoder.decode(Int64.self, from: bytes("9223372036854775807")) == .max)
        #expect(try decoder.decode(UInt64.self, from: bytes("18446744073709551615")) == .max)
        #expect(try decoder.decode(UInt64.self, from: bytes("9223372036854775808")) == 9_223_372_036_854_775_808)
        #expect(try decoder.decode(Int.self, from: bytes("1e3")) == 1000)
        #expect(try decoder.decode(Int.self, from: bytes("-12.0")) == -12)
        #expect(try decoder.decode(UInt64.self, from: bytes("1.8446744073709551615e19")) == .max)
        struct Pattern: Decodable { var a: Int64 }
        for text in [
            "-9223372036854775809", "9223372036854775808", "-9223372036854775808.5", "-9.223372036854775809e18",
        ] {
            #expect(throws: DecodingError.self, "\(text)") { try decoder.decode(Int64.self, from: bytes(text)) }
            #expect(throws: DecodingError.self, "\(text)") {
                try decoder.decode(Pattern.self, from: bytes(#"{"a":\#(text)}"#))
            }
        }
        // From a dynamic value: the parsed double of -9223372036854775809 is Int64.min's, so it is
        // no integer's exact value (`integerValue` and decoding agree).
        let parsed = try JSONValue(parsing: bytes(#"{"a":-9223372036854775809}"#))
        #expect(parsed["a"]?.integerValue == nil)
        #expect(throws: DecodingError.self) { try decoder.decode(Pattern.self, from: parsed) }
        let envelope = try #require(
            try EnvelopeParser.parseRequestEnvelope(bytes(#"{"pattern":{"a":-9223372036854775809},"request":{}}"#))
        )
        #expect(envelope.members["pattern"]?["a"]?.integerValue == nil)
        #expect(throws: DecodingError.self) { try decoder.decode(Pattern.self, from: envelope.members["pattern"]!) }
        // Exact doubles still decode into integers from a value.
        #expect(try decoder.decode(Int.self, from: JSONValue.double(4096)) == 4096)
        #expect(JSONValue.double(-4096).integerValue == -4096)
        // Fractions are not integers, however close.
        #expect(throws: DecodingError.self) { try decoder.decode(Int.self, from: bytes("1.00000000000000000001")) }
        #expect(throws: DecodingError.self) { _ = try decoder.decode(Int.self, from: bytes("1e-400")) }
    }

    @Test func doublesAreCorrectlyRounded() throws {
        let decoder = HemeraJSONDecoder()
        for text in [
            "0.1", "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", "9007199254740993",
            "0.30000000000000004", "123456.789e-3", "1e22", "1e23", "8.98846567431158e307", "4.9e-324",
            "1.00000000000000011102230246251565404236316680908203125", "7.0e-10", "-2.5E+3", "0.000001",
        ] {
            #expect(try decoder.decode(Double.self, from: bytes(text)) == Double(text)!, "\(text)")
            #expect(try JSONValue(parsing: bytes("[\(text)]"))[0]?.doubleValue == Double(text)!, "\(text)")
        }
        #expect(try decoder.decode(Double.self, from: bytes("1e-400")) == 0)
    }

    @Test func nulInKeys() throws {
        let input = bytes(#"{"a\u0000b":1,"\u0000":2}"#)
        #expect(try JSONValue(parsing: input) == ["a\u{0}b": 1, "\u{0}": 2])
        #expect(try HemeraJSONDecoder().decode(JSONValue.self, from: input) == ["a\u{0}b": 1, "\u{0}": 2])
        #expect(try HemeraJSONDecoder().decode([String: Int].self, from: input) == ["a\u{0}b": 1, "\u{0}": 2])
        #expect(try EnvelopeParser.parse(input) == ["a\u{0}b": 1, "\u{0}": 2])
        struct Keyed: Decodable, Equatable {
            var value: Int
            enum CodingKeys: String, CodingKey { case value = "a\u{0}b" }
        }
        #expect(try HemeraJSONDecoder().decode(Keyed.self, from: input) == Keyed(value: 1))
        // Round trip through the encoder.
        let encoded = try HemeraJSONEncoder().encode(["k\u{0}": "v\u{0}"])
        #expect(try HemeraJSONDecoder().decode([String: String].self, from: encoded) == ["k\u{0}": "v\u{0}"])
    }

    @Test func escapedKeysAreFoundAndDuplicatesSeenThroughEscapes() throws {
        struct Add: Decodable, Equatable { var a: Int; var b: Int }
        #expect(try HemeraJSONDecoder().decode(Add.self, from: bytes(#"{"\u0061":1,"b":2}"#)) == Add(a: 1, b: 2))
        #expect(throws: DecodingError.self) {
            try HemeraJSONDecoder().decode(JSONValue.self, from: bytes(#"{"a":1,"\u0061":2}"#))
        }
        #expect(throws: DecodingError.self) { try JSONValue(parsing: bytes(#"{"a":1,"\u0061":2}"#)) }
        // Many members: duplicates are still found.
        let many = (0..<100).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        #expect(try JSONValue(parsing: bytes("{\(many)}")).objectValue?.count == 100)
        #expect(throws: DecodingError.self) {
            try HemeraJSONDecoder().decode(JSONValue.self, from: bytes(#"{\#(many),"k42":0}"#))
        }
        var lenient = HemeraJSONDecoder()
        lenient.allowsDuplicateKeys = true
        #expect(try lenient.decode(Add.self, from: bytes(#"{"a":1,"b":2,"a":3}"#)) == Add(a: 3, b: 2))
    }
}
