import Foundation
import HemeraJSON

// Types that exercise every Codable feature, shared by the tests.

struct Meta: Codable, Hashable, Sendable {
    var id: String
    var retries: Int
    var tags: [String]
}

struct AddRequest: Codable, Hashable, Sendable {
    var topic: String
    var cmd: String
    var a: Int
    var b: Int
    var meta: Meta
}

struct Numbers: Codable, Hashable, Sendable {
    var i: Int
    var i8: Int8
    var i16: Int16
    var i32: Int32
    var i64: Int64
    var u: UInt
    var u8: UInt8
    var u16: UInt16
    var u32: UInt32
    var u64: UInt64
    var f: Float
    var d: Double
}

extension Numbers {
    static let extremes = Numbers(
        i: .min, i8: .min, i16: .min, i32: .min, i64: .max, u: UInt(Int64.max), u8: .max, u16: .max,
        u32: .max, u64: UInt64(Int64.max), f: .greatestFiniteMagnitude, d: -.leastNonzeroMagnitude)
    static let small = Numbers(
        i: 1, i8: -2, i16: 3, i32: -4, i64: 5, u: 6, u8: 7, u16: 8, u32: 9, u64: 10, f: 0.1, d: 0.1)
}

struct Optionals: Codable, Hashable, Sendable {
    var present: String?
    var absent: Int?
    var nested: Meta?
}

/// Encodes `nil` explicitly (`null`) instead of omitting the key.
struct ExplicitNull: Codable, Hashable, Sendable {
    var value: Int?
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(value, forKey: .value)
    }
}

enum Shape: Codable, Hashable, Sendable {
    case circle(radius: Double)
    case rect(width: Double, height: Double)
    case point
    case labelled(String, Int)
}

enum Color: String, Codable, Sendable { case red, green }

struct Collections: Codable, Hashable, Sendable {
    var stringKeyed: [String: Int]
    var intKeyed: [Int: String]
    var nested: [[Int]]
    var shapes: [Shape]
    var colors: Set<Color>
    var empty: [String]
}

class Animal: Codable, @unchecked Sendable {
    var name: String
    init(name: String) { self.name = name }
}

final class Dog: Animal, @unchecked Sendable {
    var breed: String
    init(name: String, breed: String) {
        self.breed = breed
        super.init(name: name)
    }
    enum CodingKeys: String, CodingKey { case breed }
    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        breed = try container.decode(String.self, forKey: .breed)
        try super.init(from: container.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(breed, forKey: .breed)
        try super.encode(to: container.superEncoder())
    }
}

/// Hand-written containers: nested keyed and unkeyed, superEncoder in an unkeyed container.
struct Handmade: Codable, Hashable, Sendable {
    var x: Int
    var ys: [String]
    var inner: Int

    enum Keys: String, CodingKey { case x, box, list }
    enum BoxKeys: String, CodingKey { case inner }

    init(x: Int, ys: [String], inner: Int) {
        self.x = x
        self.ys = ys
        self.inner = inner
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        x = try container.decode(Int.self, forKey: .x)
        let box = try container.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
        inner = try box.decode(Int.self, forKey: .inner)
        var list = try container.nestedUnkeyedContainer(forKey: .list)
        var ys: [String] = []
        while !list.isAtEnd { ys.append(try list.decode(String.self)) }
        self.ys = ys
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(x, forKey: .x)
        var box = container.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
        try box.encode(inner, forKey: .inner)
        var list = container.nestedUnkeyedContainer(forKey: .list)
        for y in ys { try list.encode(y) }
    }
}

struct Stamped: Codable, Hashable, Sendable {
    var when: Date
    var blob: Data
    var link: URL
}

struct Wrapper<T: Codable & Hashable & Sendable>: Codable, Hashable, Sendable {
    var value: T
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

let sampleRequest = AddRequest(
    topic: "math", cmd: "add", a: 1, b: 2, meta: Meta(id: "req-1", retries: 0, tags: ["x", "y"]))
