import HemeraJSON
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The pthread key of each thread's reusable `FlatPatternEncoder`: a Swift global, created once.
/// The destructor releases the thread's encoder when the thread exits.
private let _flatEncoderKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        let pointer: UnsafeMutableRawPointer? = raw
        guard let pointer else { return }
        // Safe: the value is the encoder retained by `FlatPatternEncoder.reusable`, released here once.
        let encoder = Unmanaged<FlatPatternEncoder>.fromOpaque(pointer).takeRetainedValue()
        encoder.dropContainers()
    }
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
}()

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

    // MARK: Reuse

    /// Whether a reusable encoder is lent out (``reusable(capacity:)`` to ``finish()``).
    @exclusivity(unchecked) private var busy = false
    /// Whether this is a thread's reusable encoder, which keeps the containers it made.
    private var reused = false
    /// The containers made so far, one per coding-key type (a reusable encoder's only): making a
    /// `KeyedEncodingContainer` allocates its box, once per encode otherwise. Each is stored as
    /// its box alone (`KeyedEncodingContainer` holds nothing else, see `containerIsOneReference`)
    /// and bit-cast back: an `as?` cast from `Any` asked the runtime for the metadata of
    /// `Optional<KeyedEncodingContainer<Key>>` and ran a dynamic cast, about 600 instructions of
    /// each encode (issue 12).
    @exclusivity(unchecked) private var containerKeys: [ObjectIdentifier] = []
    @exclusivity(unchecked) private var containers: [AnyObject] = []
    private static let maxContainers = 8
    /// Whether `KeyedEncodingContainer` is laid out as its box alone (its layout does not depend
    /// on the key type; checked once, with a concrete key type, so no metadata is asked per call).
    private static let containerIsOneReference =
        MemoryLayout<KeyedEncodingContainer<_OneKey>>.size == MemoryLayout<AnyObject>.size
            && MemoryLayout<KeyedEncodingContainer<_OneKey>>.alignment == MemoryLayout<AnyObject>.alignment
    private enum _OneKey: CodingKey { case one }
    /// A reusable encoder's writer is dropped after a document larger than this (16 KiB), so a
    /// thread does not keep a large buffer for the rest of its life.
    private static let maxKeptCapacity = 16 * 1024

    /// This thread's reusable encoder, reset, or a new one when it is lent out already (an
    /// `encode(to:)` that encodes a pattern itself). Give it back with ``finish()`` once its bytes
    /// are copied out, on the same thread, before any suspension.
    static func reusable(capacity: Int) -> FlatPatternEncoder {
        let key = _flatEncoderKey
        if let raw = pthread_getspecific(key) {
            // Safe: the key's value is a retained encoder set below on this thread, released only
            // by the key's destructor when the thread exits.
            let encoder = Unmanaged<FlatPatternEncoder>.fromOpaque(raw).takeUnretainedValue()
            if encoder.busy { return FlatPatternEncoder(capacity: capacity) }
            encoder.busy = true
            encoder.reset(capacity: capacity)
            return encoder
        }
        let encoder = FlatPatternEncoder(capacity: max(capacity, 1024))
        encoder.reused = true
        encoder.busy = true
        // Retained for the thread's lifetime; the key's destructor releases it.
        pthread_setspecific(key, Unmanaged.passRetained(encoder).toOpaque())
        return encoder
    }

    /// Ends a loan from ``reusable(capacity:)`` (nothing for an encoder made directly).
    func finish() { busy = false }

    private func reset(capacity: Int) {
        if writer.capacity > Self.maxKeptCapacity {
            writer = JSONWriter(capacity: max(capacity, 1024))
        } else {
            writer.removeAll()
        }
        // One by one: `removeAll(keepingCapacity:)` goes through a generic `replaceSubrange`
        // (about 250 instructions for three parts).
        while !parts.isEmpty { parts.removeLast() }
        collectsParts = true
        count = 0
        failed = false
    }

    /// Breaks the cycle between a reusable encoder and its kept containers (they refer to it).
    fileprivate func dropContainers() {
        containers.removeAll()
        containerKeys.removeAll()
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        guard reused, Self.containerIsOneReference else {
            return KeyedEncodingContainer(Container<Key>(encoder: self))
        }
        let id = ObjectIdentifier(Key.self)
        for index in containerKeys.indices where containerKeys[index] == id {
            // Safe: the box stored for this key type is the one of a `KeyedEncodingContainer<Key>`
            // (stored below under `ObjectIdentifier(Key.self)`), which is laid out as that box
            // alone (`containerIsOneReference`).
            return unsafeBitCast(containers[index], to: KeyedEncodingContainer<Key>.self)
        }
        let made = KeyedEncodingContainer(Container<Key>(encoder: self))
        if containers.count < Self.maxContainers {
            containerKeys.append(id)
            containers.append(unsafeBitCast(made, to: AnyObject.self))
        }
        return made
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
