// The JSON shapes of issue 11, shared by the JSONBenchmarks target (time and mallocs) and the
// JSONRatio probe (interleaved ratios against Foundation): what Hemera traffic carries.
import Foundation

/// A Hemera request envelope with its `trace` object (~340 B), as the wire capture shows it.
public struct Envelope: Codable, Sendable, Equatable {
    public struct Pattern: Codable, Sendable, Equatable {
        public var topic: String
        public var cmd: String
        public var a: Int
        public var b: Int
    }
    public struct Trace: Codable, Sendable, Equatable {
        public var spanId: String
        public var traceId: String
        public var timestamp: Double
        public var service: String
        public var method: String
    }
    public struct Request: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var service: String
        public var method: String
    }
    public var pattern: Pattern
    public var meta: [String: String]
    public var delegate: [String: String]
    public var trace: Trace
    public var request: Request
}

/// A product of a ~1 KB list: ids, names, prices, Booleans, optionals.
public struct Product: Codable, Sendable, Equatable {
    public var id: Int
    public var sku: String
    public var name: String
    public var price: Double
    public var inStock: Bool
    public var discount: Double?
    public var category: String?
}

/// A struct of five 64-byte strings.
public struct FiveStrings: Codable, Sendable, Equatable {
    public var first: String
    public var second: String
    public var third: String
    public var fourth: String
    public var fifth: String
}

/// A record of a ~64 KB array.
public struct Record: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String
    public var email: String
    public var score: Double
    public var active: Bool
    public var tags: [String]
    public var parent: Int?
}

public enum Shapes {
    public static let envelopeBytes: [UInt8] = Array(
        #"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{},"delegate":{},"trace":{"spanId":"TKVEFGVQJ18UTPY1SKY8IK","traceId":"TKVEFGVQJ18UTPY1SKY8Q0","timestamp":457219.201649,"service":"math","method":"a:1,b:2,cmd:add,topic:math"},"request":{"id":"TKVEFGVQJ18UTPY1SKY8XG","type":"request","service":"math","method":"a:1,b:2,cmd:add,topic:math"}}"#
            .utf8
    )

    public static let products: [Product] = (0..<8).map { index in
        Product(
            id: 10_000 + index,
            sku: "SKU-\(4_000 + index)",
            name: "Product number \(index)",
            price: Double(index) * 3.25 + 0.99,
            inStock: index % 2 == 0,
            discount: index % 3 == 0 ? 0.15 : nil,
            category: index % 4 == 0 ? nil : "category-\(index % 4)"
        )
    }

    public static let fiveStrings: FiveStrings = {
        func text(_ seed: Int) -> String {
            String((0..<64).map { Character(Unicode.Scalar(UInt8(97 + ($0 + seed) % 26))) })
        }
        return FiveStrings(first: text(0), second: text(1), third: text(2), fourth: text(3), fifth: text(4))
    }()

    public static let records: [Record] = (0..<470).map { index in
        Record(
            id: index,
            name: "Record \(index) name",
            email: "user\(index)@example.com",
            score: Double(index) / 7,
            active: index % 3 != 0,
            tags: ["t\(index % 5)", "group-\(index % 9)"],
            parent: index % 4 == 0 ? nil : index / 2
        )
    }

    /// JSON text as Foundation's encoder writes it (sorted keys off, compact).
    public static func json<T: Encodable>(_ value: T) -> [UInt8] {
        Array(try! JSONEncoder().encode(value))
    }
}
