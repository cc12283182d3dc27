import HemeraJSON

/// Decodes the common shapes (structs of strings, numbers, Booleans, optionals, nested structs
/// and `[String: V]` dictionaries) straight from a ``JSONValue`` tree that is already there: the
/// pattern a service parsed for matching, or a small reply `result`.
///
/// It is strict and partial on purpose: whatever is not an exact match (a type mismatch, a missing
/// key, `null` where a value is needed, arrays, `Float`, a decoder feature such as the coding path)
/// throws ``Unsupported``, and the caller decodes again with ``HemeraJSONDecoder``, the reference
/// for what decodes and for the error messages. So a value it returns is the value the reference
/// decoder returns.
struct FlatValueDecoder: Decoder {
    struct Unsupported: Error {}

    /// Both fast attempts refused the value (``decodeFast(_:tree:bytes:range:convertsStrings:)``).
    struct Refused: Error {}

    /// The fast attempts for a typed request or reply: the tree by this decoder, then, when the
    /// value's bytes are known, those bytes by ``HemeraJSONDecoder`` (no tree conversion). Throws
    /// ``Refused`` when both refuse: the caller then decodes the tree through its reference path,
    /// which decides what decodes and how the error reads (so failures here are not errors yet).
    ///
    /// A typed throw rather than an optional result: this code runs unspecialized (once per
    /// type, from generic callers), where a `T?` asks the runtime for `Optional<T>`'s metadata on
    /// every call, and a typed error is no allocation.
    static func decodeFast<T: Decodable>(
        _ type: T.Type,
        tree: JSONValue,
        bytes: [UInt8],
        range: Range<Int>?,
        convertsStrings: Bool = false
    ) throws(Refused) -> T {
        do {
            return try decode(T.self, from: tree)
        } catch {}
        guard let range else { throw Refused() }
        var decoder = HemeraJSONDecoder()
        decoder.convertsStrings = convertsStrings
        do {
            return try bytes.withUnsafeBytes { buffer in
                try decoder.decode(T.self, from: UnsafeRawBufferPointer(rebasing: buffer[range]))
            }
        } catch {
            throw Refused()
        }
    }

    let value: JSONValue
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Decodes `T` from `value`, or throws ``Unsupported``.
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try unbox(T.self, value)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw Unsupported() }
        return KeyedDecodingContainer(Keyed<Key>(members: members))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw Unsupported() }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(value: value) }

    // MARK: Scalars (the reference decoder's rules, exact matches only)

    @inline(__always) static func bool(_ value: JSONValue) throws -> Bool {
        guard case .bool(let flag) = value else { throw Unsupported() }
        return flag
    }

    @inline(__always) static func string(_ value: JSONValue) throws -> String {
        guard case .string(let text) = value else { throw Unsupported() }
        return text
    }

    @inline(__always) static func double(_ value: JSONValue) throws -> Double {
        switch value {
        case .double(let number): return number
        case .integer(let number): return Double(number)
        default: throw Unsupported()
        }
    }

    @inline(__always) static func integer<I: FixedWidthInteger>(_ value: JSONValue, _: I.Type) throws -> I {
        switch value {
        case .integer(let number):
            guard let result = I(exactly: number) else { throw Unsupported() }
            return result
        case .double(let number):
            // Beyond 2^53 a double stands for many integers (`-9223372036854775809` parses as the
            // double of `Int64.min`): the reference decoder reads such numbers from their text.
            guard number.magnitude <= 0x1p53, let result = I(exactly: number) else { throw Unsupported() }
            return result
        default: throw Unsupported()
        }
    }

    /// Any `T`: the scalars and `JSONValue` directly; types the reference decoder treats
    /// specially (`Data`, `URL`, dates with strategies, arrays) are left to it.
    static func unbox<T: Decodable>(_ type: T.Type, _ value: JSONValue) throws -> T {
        // Each `unsafeBitCast` below is guarded by `T.self ==` the very type cast from: a no-op
        // reinterpretation of a value as its own type (what the reference decoder does too).
        if T.self == String.self { return unsafeBitCast(try string(value), to: T.self) }
        if T.self == Int.self { return unsafeBitCast(try integer(value, Int.self), to: T.self) }
        if T.self == Double.self { return unsafeBitCast(try double(value), to: T.self) }
        if T.self == Bool.self { return unsafeBitCast(try bool(value), to: T.self) }
        if T.self == JSONValue.self { return value as! T }
        if T.self == Int64.self { return unsafeBitCast(try integer(value, Int64.self), to: T.self) }
        return try T(from: FlatValueDecoder(value: value))
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [String: JSONValue]
        var codingPath: [any CodingKey] { [] }
        var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

        @inline(__always) func member(_ key: Key) throws -> JSONValue {
            guard let value = members[key.stringValue] else { throw Unsupported() }
            return value
        }

        func decodeNil(forKey key: Key) throws -> Bool { try member(key).isNull }
        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try bool(member(key)) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try string(member(key)) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try double(member(key)) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { throw Unsupported() }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(member(key), Int.self) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(member(key), Int8.self) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(member(key), Int16.self) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(member(key), Int32.self) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(member(key), Int64.self) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(member(key), UInt.self) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(member(key), UInt8.self) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(member(key), UInt16.self) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(member(key), UInt32.self) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(member(key), UInt64.self) }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try unbox(T.self, member(key)) }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            guard case .object(let nested) = try member(key) else { throw Unsupported() }
            return KeyedDecodingContainer(Keyed<NestedKey>(members: nested))
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw Unsupported() }
        func superDecoder() throws -> any Decoder { throw Unsupported() }
        func superDecoder(forKey key: Key) throws -> any Decoder { throw Unsupported() }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        var codingPath: [any CodingKey] { [] }

        func decodeNil() -> Bool { value.isNull }
        func decode(_ type: Bool.Type) throws -> Bool { try bool(value) }
        func decode(_ type: String.Type) throws -> String { try string(value) }
        func decode(_ type: Double.Type) throws -> Double { try double(value) }
        func decode(_ type: Float.Type) throws -> Float { throw Unsupported() }
        func decode(_ type: Int.Type) throws -> Int { try integer(value, Int.self) }
        func decode(_ type: Int8.Type) throws -> Int8 { try integer(value, Int8.self) }
        func decode(_ type: Int16.Type) throws -> Int16 { try integer(value, Int16.self) }
        func decode(_ type: Int32.Type) throws -> Int32 { try integer(value, Int32.self) }
        func decode(_ type: Int64.Type) throws -> Int64 { try integer(value, Int64.self) }
        func decode(_ type: UInt.Type) throws -> UInt { try integer(value, UInt.self) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(value, UInt8.self) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(value, UInt16.self) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(value, UInt32.self) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(value, UInt64.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(T.self, value) }
    }
}
