import Foundation
import HemeraJSON
import Testing

/// Records the coding path its `encode(to:)` sees, at every level: inside keyed members, array
/// elements, dictionary values, nested containers and super encoders.
final class PathProbe: Encodable, @unchecked Sendable {
    // @unchecked Sendable: only touched by the one test that creates it, on one task.
    var seen: [String] = []

    struct Leaf: Encodable {
        let probe: PathProbe
        func encode(to encoder: any Encoder) throws {
            probe.seen.append(encoder.codingPath.map(rendered).joined(separator: "."))
            var container = encoder.singleValueContainer()
            try container.encode(1)
        }
    }

    enum Keys: String, CodingKey { case name, count, score, flag, leaf, list, map, nested, array }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        // Strings, numbers and Booleans first: their keys are not recorded, the next member's must be.
        try container.encode("n", forKey: .name)
        try container.encode(3, forKey: .count)
        try container.encode(0.5, forKey: .score)
        try container.encode(true, forKey: .flag)
        try container.encode(Leaf(probe: self), forKey: .leaf)
        try container.encode(["a", "b"], forKey: .list)
        try container.encode([Leaf(probe: self), Leaf(probe: self)], forKey: .list)
        try container.encode(["k": Leaf(probe: self)], forKey: .map)
        var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .nested)
        try nested.encode("x", forKey: .name)
        try nested.encode(Leaf(probe: self), forKey: .leaf)
        var array = container.nestedUnkeyedContainer(forKey: .array)
        try array.encode("s")
        try array.encode(2)
        try array.encode(Leaf(probe: self))
        var inner = array.nestedContainer(keyedBy: Keys.self)
        try inner.encode(1, forKey: .count)
        try inner.encode(Leaf(probe: self), forKey: .leaf)
        try Leaf(probe: self).encode(to: container.superEncoder())
    }
}

/// A path element as the tests compare it: an array index as its number (Foundation's index keys
/// have the string value `Index 1`, ours `1`).
func rendered(_ key: any CodingKey) -> String { key.intValue.map(String.init) ?? key.stringValue }

/// Holds one double under a key, inside an array, inside an object: where a rejected value is.
struct DeepDouble: Encodable {
    struct Item: Encodable { var label: String; var value: Double; var ratio: Float }
    var items: [Item]
}

/// The encoder's fast paths (scalars reached through generic calls, keys not recorded for
/// scalar members, doubles with at most three decimals written without formatting a String)
/// give Foundation's output and Foundation's coding paths.
@Suite struct EncoderFastPaths {
    @Test func codingPathsAsFoundationSeesThem() throws {
        let ours = PathProbe()
        _ = try HemeraJSONEncoder().encode(ours)
        let theirs = PathProbe()
        _ = try JSONEncoder().encode(theirs)
        #expect(ours.seen == ["leaf", "list.0", "list.1", "map.k", "nested.leaf", "array.2", "array.3.leaf", "super"])
        // Foundation agrees, except below nested containers, where it drops their keys.
        #expect(theirs.seen == ["leaf", "list.0", "list.1", "map.k", "leaf", "2", "leaf", "super"])
    }

    @Test func rejectedValuesCarryTheirPath() throws {
        let items = [DeepDouble.Item(label: "a", value: 1, ratio: 1), DeepDouble.Item(label: "b", value: .nan, ratio: 1)]
        for (value, expected) in [
            (DeepDouble(items: items), ["items", "1", "value"]),
            (DeepDouble(items: [items[0], .init(label: "c", value: 2, ratio: .infinity)]), ["items", "1", "ratio"]),
        ] {
            var ourPath: [String] = []
            var theirPath: [String] = []
            do { _ = try HemeraJSONEncoder().encode(value) } catch let EncodingError.invalidValue(_, context) {
                ourPath = context.codingPath.map(rendered)
            }
            do { _ = try JSONEncoder().encode(value) } catch let EncodingError.invalidValue(_, context) {
                theirPath = context.codingPath.map(rendered)
            }
            #expect(ourPath == expected)
            #expect(theirPath == expected)
        }
        // Dictionary values and array elements reached through generic calls.
        do {
            _ = try HemeraJSONEncoder().encode(["x": [1.0, .infinity]])
            Issue.record("expected an error")
        } catch let EncodingError.invalidValue(_, context) {
            #expect(context.codingPath.map(rendered) == ["x", "1"])
        }
        do {
            _ = try HemeraJSONEncoder().encode(["x": Double.nan])
            Issue.record("expected an error")
        } catch let EncodingError.invalidValue(_, context) {
            #expect(context.codingPath.map(rendered) == ["x"])
        }
    }

    @Test func doublesAsFoundationWritesThem() throws {
        var generator = SystemRandomNumberGenerator()
        let foundation = JSONEncoder()
        let fixed: [Double] = [
            0.001, 0.01, 0.1, 0.5, -0.5, 0.012, 0.105, 0.15, 1.001, 4.24, 10.99, 457219.201649, 1764260000123.456,
            -1764260000123.007, 8796093022207.999, 0x1p43 + 0.5, 0x1p43 - 0.5, 1e-4, 1.5e-3, 0.0015, 1e15 + 0.5,
            1.2345678901234568e20, 1e20, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1.0 / 3,
        ]
        var values = fixed + fixed.map { -$0 }
        for _ in 0..<20000 {
            values.append(Double(Int64.random(in: -10_000_000_000...10_000_000_000, using: &generator)) / 1000)
            values.append(Double(Int64.random(in: -100_000...100_000, using: &generator)) / 100)
            values.append(Double.random(in: -1e13...1e13, using: &generator))
            values.append(Double.random(in: -1...1, using: &generator))
        }
        // One array (the generic element path) and one struct member each (the keyed path).
        #expect(try HemeraJSONEncoder().encode(values) == Array(try foundation.encode(values)))
        for value in values.prefix(2000) {
            let ours = String(decoding: try HemeraJSONEncoder().encode(Wrapper(value: value)), as: UTF8.self)
            let theirs = String(decoding: try foundation.encode(Wrapper(value: value)), as: UTF8.self)
            #expect(ours == theirs)
        }
    }

    @Test func scalarsReachedThroughGenericCallsAsFoundationWritesThem() throws {
        struct Mixed: Codable, Equatable {
            var strings: [String]
            var ints: [Int]
            var int64s: [Int64]
            var int32s: [Int32]
            var floats: [Float]
            var bools: [Bool]
            var map: [String: String]
            var counts: [String: Int]
            var flags: [String: Bool]
            var optional: [String?]
        }
        let value = Mixed(
            strings: ["", "a\"b", "\u{1}é😀", String(repeating: "z", count: 70)], ints: [0, -1, .max, .min],
            int64s: [.max, .min], int32s: [.max, .min], floats: [0.1, 1.5, -0, 3e38], bools: [true, false],
            map: ["k": "v\n"], counts: ["c": 7], flags: ["f": false], optional: ["x", nil])
        let foundation = JSONEncoder()
        foundation.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var ours = HemeraJSONEncoder()
        ours.outputFormatting = .sortedKeys
        #expect(String(decoding: try ours.encode(value), as: UTF8.self)
            == String(decoding: try foundation.encode(value), as: UTF8.self))
        try checkParity(value)
    }
}
