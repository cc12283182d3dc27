// TEMPORARY: the API contract of the JSON layer, backed by Foundation until the jansson
// implementation lands. Signatures here are the contract other modules build against.
import Foundation

/// Encodes `Encodable` values as JSON bytes.
public struct HemeraJSONEncoder: Sendable {
    public init() {}

    /// Encodes `value` as UTF-8 JSON bytes.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    /// Encodes `value` into a dynamic ``JSONValue`` tree.
    public func encodeToValue<T: Encodable>(_ value: T) throws -> JSONValue {
        try HemeraJSONDecoder().decode(JSONValue.self, from: try encode(value))
    }
}

/// Decodes `Decodable` values from JSON bytes.
public struct HemeraJSONDecoder: Sendable {
    public init() {}

    /// Decodes a `T` from UTF-8 JSON bytes.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// Decodes a `T` from `count` bytes at `pointer` without copying them first.
    public func decode<T: Decodable>(_ type: T.Type, from buffer: UnsafeRawBufferPointer) throws -> T {
        try decode(type, from: Array(buffer))
    }

    /// Decodes a `T` from a dynamic ``JSONValue`` tree.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try decode(type, from: try HemeraJSONEncoder().encode(value))
    }
}

extension JSONValue {
    /// Parses UTF-8 JSON bytes.
    public init(parsing bytes: [UInt8]) throws {
        self = try HemeraJSONDecoder().decode(JSONValue.self, from: bytes)
    }

    /// Serializes this value as compact UTF-8 JSON bytes.
    public func serialized() throws -> [UInt8] {
        try HemeraJSONEncoder().encode(self)
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
