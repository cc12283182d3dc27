import HemeraJSON

/// Encodes a flat `Encodable` (a struct of strings, numbers, Booleans and optionals of them)
/// straight into JSON members and the `method` parts, with no tree and no JSON-layer round trip.
/// Anything else (nested values, arrays, dates…) makes it give up, and the caller takes the
/// general path through ``HemeraJSONEncoder``.
final class FlatPatternEncoder: Encoder {
    struct Unsupported: Error {}

    // `@exclusivity(unchecked)`: an encoder is made for one encode and used by that call alone (a
    // local of `EncodedTypedPattern`/`encodeResult`, passed to `encode(to:)` on the same thread), so
    // the dynamic exclusivity checks of class properties (~60 instructions per access, ~20 accesses
    // per act) guard nothing; overlapping accesses within the encoder's own methods are still
    // diagnosed statically.
    @exclusivity(unchecked) var writer: JSONWriter
    @exclusivity(unchecked) var parts: [(key: String, value: String)] = []
    /// Whether to collect the `method` parts (patterns); replies need only the bytes.
    var collectsParts = true
    @exclusivity(unchecked) var count = 0
    @exclusivity(unchecked) var failed = false
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(capacity: Int = 128) {
        writer = JSONWriter(capacity: capacity)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(Container<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        failed = true
        return Refusing(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        failed = true
        return Refusing(encoder: self)
    }

    @inline(__always) func member(_ key: String) {
        if count > 0 { writer.raw(",") }
        count += 1
        writer.key(key)
    }

    struct Container<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let encoder: FlatPatternEncoder
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws {
            encoder.member(key.stringValue)
            encoder.writer.raw("null")
        }
        mutating func encode(_ value: Bool, forKey key: Key) throws {
            encoder.member(key.stringValue)
            value ? encoder.writer.raw("true") : encoder.writer.raw("false")
            if encoder.collectsParts { encoder.parts.append((key.stringValue, value ? "true" : "false")) }
        }
        mutating func encode(_ value: String, forKey key: Key) throws {
            encoder.member(key.stringValue)
            encoder.writer.string(value)
            if encoder.collectsParts { encoder.parts.append((key.stringValue, value)) }
        }
        mutating func encode(_ value: Double, forKey key: Key) throws {
            guard value.isFinite else { throw Unsupported() }
            encoder.member(key.stringValue)
            encoder.writer.double(value)
            if encoder.collectsParts { encoder.parts.append((key.stringValue, formatJavaScriptNumber(value))) }
        }
        mutating func encode(_ value: Float, forKey key: Key) throws { try encode(Double(value), forKey: key) }
        mutating func integer(_ value: Int64, forKey key: Key) {
            encoder.member(key.stringValue)
            encoder.writer.integer(value)
            if encoder.collectsParts {
                encoder.parts.append(
                    (key.stringValue, value.magnitude < (1 << 53) ? String(value) : formatJavaScriptNumber(Double(value)))
                )
            }
        }
        mutating func encode(_ value: Int, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { integer(value, forKey: key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws {
            guard let exact = Int64(exactly: value) else { throw Unsupported() }
            integer(exact, forKey: key)
        }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { integer(Int64(value), forKey: key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws {
            guard let exact = Int64(exactly: value) else { throw Unsupported() }
            integer(exact, forKey: key)
        }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            switch value {
            case let v as String: try encode(v, forKey: key)
            case let v as Int: try encode(v, forKey: key)
            case let v as Bool: try encode(v, forKey: key)
            case let v as Double: try encode(v, forKey: key)
            case let v as Int64: try encode(v, forKey: key)
            case let v as Int32: try encode(v, forKey: key)
            default: throw Unsupported()  // nested values, dates, data, …: the general path
            }
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey>
        {
            encoder.failed = true
            return KeyedEncodingContainer(FlatPatternEncoder.Container<NestedKey>(encoder: FlatPatternEncoder()))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            encoder.failed = true
            return Refusing(encoder: FlatPatternEncoder())
        }
        mutating func superEncoder() -> any Encoder {
            encoder.failed = true
            return FlatPatternEncoder()
        }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            encoder.failed = true
            return FlatPatternEncoder()
        }
    }

    /// Returned where the flat encoder cannot go; everything written to it is dropped and the
    /// encoding is marked failed.
    struct Refusing: UnkeyedEncodingContainer, SingleValueEncodingContainer {
        let encoder: FlatPatternEncoder
        var codingPath: [any CodingKey] { [] }
        var count: Int { 0 }
        mutating func encodeNil() throws { throw Unsupported() }
        mutating func encode<T: Encodable>(_ value: T) throws { throw Unsupported() }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
            NestedKey
        > {
            KeyedEncodingContainer(FlatPatternEncoder.Container<NestedKey>(encoder: FlatPatternEncoder()))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
        mutating func superEncoder() -> any Encoder { FlatPatternEncoder() }
    }
}
