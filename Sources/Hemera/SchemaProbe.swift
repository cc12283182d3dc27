import HemeraJSON

/// Finds the payload fields of a `Decodable` type by decoding it from a probe that records every
/// key asked for, with its type and whether it is required; used for ``Hemera/actions`` schemas.
/// Types whose `init(from:)` rejects the probe's placeholder values are described as far as the
/// probe got.
final class SchemaProbe: Decoder {
    struct GiveUp: Error {}

    var fields: [String: JSONValue] = [:]
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func fields<T: Decodable>(of type: T.Type) -> JSONValue {
        let probe = SchemaProbe()
        _ = try? T(from: probe)
        return .object(probe.fields)
    }

    func record(_ key: String, _ type: String, required: Bool) {
        fields[key] = ["type": .string(type), "required": .bool(required)]
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(probe: self))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw GiveUp() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { throw GiveUp() }

    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type, is UInt.Type, is UInt8.Type,
            is UInt16.Type, is UInt32.Type, is UInt64.Type:
            return "integer"
        case is Double.Type, is Float.Type: return "number"
        case is String.Type: return "string"
        case is Bool.Type: return "boolean"
        case is JSONValue.Type: return "any"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") || name.hasPrefix("[") && !name.contains(":") { return "array" }
            return "object"
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let probe: SchemaProbe
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { [] }
        func contains(_ key: Key) -> Bool { true }

        func decodeNil(forKey key: Key) throws -> Bool {
            probe.record(key.stringValue, probe.fields[key.stringValue]?["type"]?.stringValue ?? "any", required: false)
            return true
        }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
            probe.record(key.stringValue, "boolean", required: true); return false
        }
        func decode(_ type: String.Type, forKey key: Key) throws -> String {
            probe.record(key.stringValue, "string", required: true); return ""
        }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
            probe.record(key.stringValue, "number", required: true); return 0
        }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
            probe.record(key.stringValue, "number", required: true); return 0
        }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
            probe.record(key.stringValue, "integer", required: true); return 0
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            probe.record(key.stringValue, SchemaProbe.kind(T.self), required: true)
            if T.self == JSONValue.self, let value = JSONValue.null as? T { return value }
            throw GiveUp()  // nested types: recorded, not descended into
        }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            probe.record(key.stringValue, SchemaProbe.kind(T.self), required: false)
            return nil
        }
        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
            probe.record(key.stringValue, "boolean", required: false); return nil
        }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
            probe.record(key.stringValue, "string", required: false); return nil
        }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
            probe.record(key.stringValue, "number", required: false); return nil
        }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
            probe.record(key.stringValue, "integer", required: false); return nil
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            probe.record(key.stringValue, "object", required: true)
            throw GiveUp()
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            probe.record(key.stringValue, "array", required: true)
            throw GiveUp()
        }
        func superDecoder() throws -> any Decoder { throw GiveUp() }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw GiveUp() }
    }
}
