// The decoder: reads the tape (Tape.swift) of the document directly, with no tree and no
// intermediate JSONValue.
public import FoundationEssentials

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Decodes `Decodable` values from JSON, with the strategies of Foundation's `JSONDecoder`.
///
/// The document is parsed onto a flat tape (one 16-byte entry per value, strings and numbers left
/// in the input), which the decoder then reads in place: a type's keys are found by following the
/// member order (types read their keys in the order they are written), without hashing.
///
/// ```swift
/// struct Add: Codable { var a: Int; var b: Int }
/// let add = try HemeraJSONDecoder().decode(Add.self, from: Array(#"{"a":1,"b":2}"#.utf8))
/// ```
///
/// Errors are `DecodingError`s whose `debugDescription` reads `<dotted path>: expected <type>,
/// found <description>` (`a: expected a number, found the string "Hello"`), or `<path>: is
/// required` for a missing key; ``JSONDecodingIssue`` gives them a structured form.
///
/// Hostile input:
/// - Invalid JSON (RFC 8259, strictly), invalid UTF-8, truncated input:
///   `DecodingError.dataCorrupted` with a ``JSONSyntaxError`` (line, column, reason).
/// - `\u0000` is accepted in strings and in object keys (Swift strings hold NUL, as Foundation and
///   JavaScript do). A raw NUL byte anywhere in the input is a syntax error (JSON text never
///   contains one), as is any other raw control character in a string.
/// - Duplicate keys in an object are rejected (``allowsDuplicateKeys``), since parsers disagree
///   on which one wins.
/// - Nesting deeper than ``maxDepth`` (default 512) is an error, found while parsing (the parser
///   is iterative: no input can exhaust the stack).
/// - Numbers: integer text beyond `Int64` (`123456789012345680000`, as JavaScript writes
///   `1.2345678901234568e20`) decodes into `Double`, `Float` and ``JSONValue`` (as a double), and
///   into an integer type only when its exact value fits (`UInt64` up to 18446744073709551615),
///   else a typed error; integer targets never read a rounded double (`-9223372036854775809` is
///   an error for `Int64`, not `Int64.min`). `-0` decodes as `-0.0`. Numbers beyond `Double`'s
///   range (`1e400`) are a syntax error.
/// - Inputs longer than ``maxInputLength`` are rejected before parsing, and so are inputs over
///   256 MiB whatever the setting (the tape's offsets are 28 bits).
public struct HemeraJSONDecoder: Sendable {
    /// How JSON keys are matched to the types' keys.
    public enum KeyDecodingStrategy: Sendable {
        /// The keys as they are.
        case useDefaultKeys
        /// `my_property` is read as `myProperty`.
        case convertFromSnakeCase
        /// A function of the coding path (whose last element is the JSON key).
        case custom(@Sendable (_ codingPath: [any CodingKey]) -> any CodingKey)
    }

    /// How `Date` values are read.
    public enum DateDecodingStrategy: Sendable {
        /// `Date`'s own `Codable`: seconds since 2001-01-01.
        case deferredToDate
        /// Seconds since 1970-01-01.
        case secondsSince1970
        /// Milliseconds since 1970-01-01.
        case millisecondsSince1970
        /// An ISO 8601 string such as `2024-05-01T12:00:00Z`.
        case iso8601
        /// A function that decodes a date from the given decoder.
        case custom(@Sendable (any Decoder) throws -> Date)
    }

    /// How `Data` values are read.
    public enum DataDecodingStrategy: Sendable {
        /// `Data`'s own `Codable`: an array of byte values.
        case deferredToData
        /// A Base64 string.
        case base64
        /// A function that decodes data from the given decoder.
        case custom(@Sendable (any Decoder) throws -> Data)
    }

    /// How strings standing for infinities and NaN are read.
    public enum NonConformingFloatDecodingStrategy: Sendable {
        /// They are not numbers: a type mismatch.
        case `throw`
        /// These strings are read as infinities and NaN.
        case convertFromString(positiveInfinity: String, negativeInfinity: String, nan: String)
    }

    /// How keys are matched. Default: ``KeyDecodingStrategy/useDefaultKeys``.
    public var keyDecodingStrategy: KeyDecodingStrategy = .useDefaultKeys
    /// How dates are read. Default: ``DateDecodingStrategy/deferredToDate``, as Foundation.
    public var dateDecodingStrategy: DateDecodingStrategy = .deferredToDate
    /// How `Data` is read. Default: ``DataDecodingStrategy/base64``.
    public var dataDecodingStrategy: DataDecodingStrategy = .base64
    /// How non-conforming floats are read. Default: ``NonConformingFloatDecodingStrategy/throw``.
    public var nonConformingFloatDecodingStrategy: NonConformingFloatDecodingStrategy = .throw
    /// Values for `Decoder.userInfo`, for the types' `init(from:)`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]
    /// The deepest nesting of arrays and objects accepted. Default: 512, as Foundation.
    ///
    /// It bounds the decoder's recursion (and so its stack use); the parser itself is iterative.
    public var maxDepth = 512
    /// The longest input accepted, in bytes. Default: 64 MiB, NATS's largest payload.
    public var maxInputLength = 64 << 20
    /// Whether an object may repeat a key (the last one then wins, as in JavaScript). Default:
    /// `false`, such input is rejected.
    public var allowsDuplicateKeys = false
    /// Opt-in conversion, as Joi's `convert`: a string holding a number is read as a number
    /// (`"9"` → `9`, `"1.5"` → `1.5`), and `"true"`/`"false"` as Booleans. Default: `false`, strict.
    public var convertsStrings = false

    /// Creates a strict decoder with Foundation's defaults.
    public init() {}

    /// Decodes a `T` from UTF-8 JSON bytes.
    ///
    /// - Throws: `DecodingError` (see the type's documentation for the messages).
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes a `T` from bytes in memory, such as a NATS message's payload, without copying them.
    ///
    /// The bytes need only stay valid during the call.
    public func decode<T: Decodable>(_ type: T.Type, from buffer: UnsafeRawBufferPointer) throws -> T {
        try withUnsafePointer(to: self) { options in
            let state = _DecoderState.acquire(options)
            defer { state.relinquish() }
            return try state.decode(type, from: buffer)
        }
    }

    /// Decodes a `T` from a dynamic ``JSONValue`` tree (keys the type does not know are ignored).
    ///
    /// With ``HemeraJSONEncoder/encode(_:merging:)``, this is the other half of pattern flattening:
    /// the payload type reads its fields from the flat pattern and ignores the routing keys.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        if let value = value as? T { return value }
        return try withUnsafePointer(to: self) { options in
            let state = _DecoderState.acquire(options)
            defer { state.relinquish() }
            return try state.decode(type, from: value)
        }
    }

    /// Parses `buffer` onto `tape`, with this decoder's limits; errors as `DecodingError`s.
    func parse(_ buffer: UnsafeRawBufferPointer, onto tape: _Tape) throws(DecodingError) {
        guard buffer.count <= maxInputLength else {
            throw _Errors.limit(
                "the input has \(buffer.count) bytes, more than the limit of \(maxInputLength)",
                path: []
            )
        }
        guard buffer.count > 0 else {
            let error = JSONSyntaxError(reason: "the input is empty", line: 1, column: 0, position: 0)
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: error.description, underlyingError: error)
            )
        }
        do {
            try tape.parse(buffer, maxDepth: maxDepth, rejectsDuplicates: !allowsDuplicateKeys)
        } catch {
            throw Self.decodingError(error, in: buffer)
        }
    }

    static func decodingError(_ failure: _Tape.Failure, in buffer: UnsafeRawBufferPointer) -> DecodingError {
        switch failure {
        case .limit(let text):
            return _Errors.limit(text, path: [])
        case .syntax(let failure):
            let error = JSONSyntaxError(failure, in: buffer)
            return DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: error.description, underlyingError: error)
            )
        }
    }
}

// MARK: - State

/// The pthread key of each thread's reusable `_DecoderState`: a Swift global, so created once
/// (the global's lazy initializer runs once per process) and defined once in every build mode.
/// The destructor releases a thread's state when the thread exits.
private let _decoderStateKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        let pointer: UnsafeMutableRawPointer? = raw
        if let pointer { _DecoderState.releaseThreadState(pointer) }
    }
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
}()

/// One decoding run: options and the coding path, kept as a stack shared by all containers.
///
/// A state is reused: each thread keeps one (see `acquire`), with its tape and the keyed
/// containers made before, so that a decode of a small document allocates almost nothing but
/// what it returns and never asks the runtime for generic metadata. A decode started while the
/// thread's state is busy (a type's `init(from:)` decoding JSON itself) gets a fresh one.
///
/// The per-thread slot is a pthread key created once by a Swift global (`_decoderStateKey`): one
/// definition in every build mode. (It used to be a `static __thread` inside a `static inline` C
/// function, which a release build copies into every object file that inlines it: issue 11.)
final class _DecoderState {
    /// The options of the running decode. They live in the caller's frame: valid only during
    /// one `decode` call (containers and decoders must not escape it, as with any `Decoder`).
    @exclusivity(unchecked) private(set) var optionsPointer: UnsafePointer<HemeraJSONDecoder>
    var options: HemeraJSONDecoder { optionsPointer.pointee }
    // Copies of the options read on hot paths.
    //
    // Exclusivity: a state is used by one thread at a time (its own, or the one decode that made
    // a fresh one), and no access to these fields spans a call: the dynamic checks are skipped.
    @exclusivity(unchecked) private(set) var maxDepth: Int
    @exclusivity(unchecked) private(set) var convertsStrings: Bool
    @exclusivity(unchecked) private(set) var usesDefaultKeys: Bool
    /// Whether keys may repeat (then the last one wins, so look-ups cannot stop at the first).
    @exclusivity(unchecked) private(set) var allowsDuplicateKeys: Bool
    /// `path[i]`: the key being read by the container at depth `i`. Entries past the current
    /// depth are stale (left from earlier decodes) and never read.
    @exclusivity(unchecked) var path: [any CodingKey] = []
    /// Whether this is the thread's reusable state (only that one caches).
    private let isShared: Bool
    /// Whether a decode is running with this state.
    @exclusivity(unchecked) private var busy = false
    /// The tape of the running decode, kept between decodes.
    let tape = _Tape()
    /// Keyed containers by key type, reused once their previous user let them go (shared state only).
    private let containers: UnsafeMutablePointer<_CachedContainer>?
    /// The frames of keyed containers made during this decode and not cached (the slot was in
    /// use, or this state does not cache): containers do not own their frames (see
    /// `_KeyedDecoder`), the state does until the decode ends.
    @exclusivity(unchecked) private var transientFrames: [_KeyedFrame] = []

    static let containerSlots = 64
    /// Whether `KeyedDecodingContainer` is laid out as its box alone (its layout does not depend
    /// on the key type).
    static let containerIsOneReference =
        MemoryLayout<KeyedDecodingContainer<_JSONKey>>.size == MemoryLayout<AnyObject>.size

    private init(options: UnsafePointer<HemeraJSONDecoder>, shared: Bool) {
        optionsPointer = options
        maxDepth = options.pointee.maxDepth
        convertsStrings = options.pointee.convertsStrings
        if case .useDefaultKeys = options.pointee.keyDecodingStrategy {
            usesDefaultKeys = true
        } else {
            usesDefaultKeys = false
        }
        allowsDuplicateKeys = options.pointee.allowsDuplicateKeys
        isShared = shared
        path.reserveCapacity(8)
        if shared {
            let slots = UnsafeMutablePointer<_CachedContainer>.allocate(capacity: Self.containerSlots)
            slots.initialize(repeating: _CachedContainer(), count: Self.containerSlots)
            containers = slots
        } else {
            containers = nil
        }
    }

    deinit {
        if let containers {
            containers.deinitialize(count: Self.containerSlots)
            containers.deallocate()
        }
    }

    /// The state for a decode with `options` on this thread: the thread's own if it is free.
    static func acquire(_ options: UnsafePointer<HemeraJSONDecoder>) -> _DecoderState {
        let key = _decoderStateKey
        if let raw = pthread_getspecific(key) {
            // The slot holds a state retained by `passRetained` below, released by the key's
            // destructor when the thread exits: alive for as long as this thread runs.
            let state = Unmanaged<_DecoderState>.fromOpaque(raw).takeUnretainedValue()
            if !state.busy {
                state.begin(options)
                return state
            }
            return _DecoderState(options: options, shared: false)
        }
        let state = _DecoderState(options: options, shared: true)
        // One retain, owned by the thread's slot; released once, by the key's destructor.
        pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
        state.busy = true
        return state
    }

    /// Called by the pthread key's destructor when a thread that decoded exits.
    fileprivate static func releaseThreadState(_ raw: UnsafeMutableRawPointer) {
        let state = Unmanaged<_DecoderState>.fromOpaque(raw).takeRetainedValue()
        state.dropContainers()  // they refer back to the state
    }

    private func begin(_ options: UnsafePointer<HemeraJSONDecoder>) {
        busy = true
        optionsPointer = options
        maxDepth = options.pointee.maxDepth
        convertsStrings = options.pointee.convertsStrings
        if case .useDefaultKeys = options.pointee.keyDecodingStrategy {
            usesDefaultKeys = true
        } else {
            usesDefaultKeys = false
        }
        allowsDuplicateKeys = options.pointee.allowsDuplicateKeys
    }

    /// Ends the decode that `acquire` started.
    func relinquish() {
        busy = false
        if !transientFrames.isEmpty { transientFrames.removeAll() }
        tape.trim()
    }

    private func transientContainer<Key: CodingKey>(_: Key.Type, object: _Node, depth: Int) -> KeyedDecodingContainer<
        Key
    > {
        let frame = _KeyedFrame(state: self, object: object, depth: depth)
        transientFrames.append(frame)
        return KeyedDecodingContainer(_KeyedDecoder<Key>(frame: frame))
    }

    private func dropContainers() {
        guard let containers else { return }
        for index in 0..<Self.containerSlots { containers[index] = _CachedContainer() }
    }

    /// Parses `buffer` onto the tape and decodes a `T` from it.
    func decode<T: Decodable>(_ type: T.Type, from buffer: UnsafeRawBufferPointer) throws -> T {
        try options.parse(buffer, onto: tape)
        return try unbox(type, tape.root, depth: 0)
    }

    /// Puts `value` on the tape and decodes a `T` from it.
    func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        do {
            try tape.build(from: value, maxDepth: maxDepth)
        } catch {
            throw HemeraJSONDecoder.decodingError(error, in: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try unbox(type, tape.root, depth: 0)
    }

    var userInfo: [CodingUserInfoKey: Any] { options.userInfo }

    func codingPath(_ depth: Int) -> [any CodingKey] {
        Array(path.prefix(depth))
    }

    /// A keyed container over `object`. The shared state hands out the container it made for
    /// `Key` before when nothing else holds it any more: making one costs two generic metadata
    /// look-ups, a witness table look-up and an allocation, more than reading a small object.
    func keyedContainer<Key: CodingKey>(_: Key.Type, object: _Node, depth: Int) -> KeyedDecodingContainer<Key> {
        // KeyedDecodingContainer holds nothing but its box, a class instance: it can be kept as one.
        guard let containers, Self.containerIsOneReference else {
            return transientContainer(Key.self, object: object, depth: depth)
        }
        let id = ObjectIdentifier(Key.self)
        let bits = UInt(bitPattern: id)
        let slot = containers + Int((bits >> 4 ^ bits >> 12) % UInt(Self.containerSlots))
        if slot.pointee.key == id {
            if isKnownUniquelyReferenced(&slot.pointee.box) {
                slot.pointee.frame.unsafelyUnwrapped.reset(object: object, depth: depth)
                return unsafeBitCast(slot.pointee.box.unsafelyUnwrapped, to: KeyedDecodingContainer<Key>.self)
            }
            // In use further up (a recursive type): a fresh one, and the cached one stays.
            return transientContainer(Key.self, object: object, depth: depth)
        }
        // The slot holds another key type's container: it gives way only when not in use.
        if slot.pointee.key != nil, !isKnownUniquelyReferenced(&slot.pointee.box) {
            return transientContainer(Key.self, object: object, depth: depth)
        }
        let frame = _KeyedFrame(state: self, object: object, depth: depth)
        let container = KeyedDecodingContainer(_KeyedDecoder<Key>(frame: frame))
        slot.pointee = _CachedContainer(key: id, box: unsafeBitCast(container, to: AnyObject.self), frame: frame)
        return container
    }

    @inline(__always)
    func setPath(_ index: Int, _ key: some CodingKey) {
        if path.count > index {
            path[index] = key
        } else {
            while path.count < index { path.append(_JSONKey.super) }
            path.append(key)
        }
    }

    // MARK: Scalars

    func unboxBool(_ node: _Node, _ path: () -> [any CodingKey]) throws -> Bool {
        switch node.kind {
        case .true: return true
        case .false: return false
        case .null: throw _Errors.valueNotFound(Bool.self, expected: "a boolean", path: path())
        case .string where convertsStrings:
            switch node.string {
            case "true": return true
            case "false": return false
            default: break
            }
        default: break
        }
        throw _Errors.typeMismatch(Bool.self, expected: "a boolean", found: node.described, path: path())
    }

    func unboxString(_ node: _Node, _ path: () -> [any CodingKey]) throws -> String {
        if node.kind == .string { return node.string }
        if node.isNull { throw _Errors.valueNotFound(String.self, expected: "a string", path: path()) }
        throw _Errors.typeMismatch(String.self, expected: "a string", found: node.described, path: path())
    }

    func unboxInteger<I: FixedWidthInteger>(_ node: _Node, _ type: I.Type, _ path: () -> [any CodingKey]) throws -> I {
        switch node.kind {
        case .integer:
            let value = node.integer
            if let result = I(exactly: value) { return result }
            throw outOfRange(type, found: node.described, path)
        case .real:
            // From the number's text, exactly: a rounded double would turn
            // -9223372036854775809 into Int64.min.
            switch node.exactInteger {
            case .value(let negative, let magnitude):
                if negative {
                    if magnitude == 0 { return 0 }
                    if I.isSigned, magnitude <= UInt64(I.max) + 1 {
                        return I(truncatingIfNeeded: 0 &- magnitude)
                    }
                } else if magnitude <= UInt64(I.max) {
                    return I(magnitude)
                }
                throw outOfRange(type, found: node.described, path)
            case .tooLarge:
                throw outOfRange(type, found: node.described, path)
            case .fraction:
                throw _Errors.invalid(expected: "an integer", found: node.described, path: path())
            }
        case .null:
            throw _Errors.valueNotFound(type, expected: "a number", path: path())
        case .string where convertsStrings:
            let text = node.string
            if let result = I(text) { return result }
            if let value = Double(text), value.isFinite {
                if let result = I(exactly: value) { return result }
                if value == value.rounded(.towardZero) { throw outOfRange(type, found: node.described, path) }
                throw _Errors.invalid(expected: "an integer", found: node.described, path: path())
            }
        default: break
        }
        throw _Errors.typeMismatch(type, expected: "a number", found: node.described, path: path())
    }

    private func outOfRange<I: FixedWidthInteger>(
        _ type: I.Type,
        found: String,
        _ path: () -> [any CodingKey]
    ) -> DecodingError {
        _Errors.invalid(expected: "an integer from \(I.min) to \(I.max)", found: found, path: path())
    }

    func unboxDouble(_ node: _Node, _ path: () -> [any CodingKey]) throws -> Double {
        switch node.kind {
        case .real: return node.real
        case .integer: return Double(node.integer)
        case .null: throw _Errors.valueNotFound(Double.self, expected: "a number", path: path())
        case .string:
            let text = node.string
            if case .convertFromString(let positive, let negative, let nan) = options.nonConformingFloatDecodingStrategy
            {
                if text == positive { return .infinity }
                if text == negative { return -.infinity }
                if text == nan { return .nan }
            }
            if convertsStrings, let value = Double(text), value.isFinite { return value }
        default: break
        }
        throw _Errors.typeMismatch(Double.self, expected: "a number", found: node.described, path: path())
    }

    func unboxFloat(_ node: _Node, _ path: () -> [any CodingKey]) throws -> Float {
        let value = try unboxDouble(node, path)
        if value.isFinite && Float(value).isInfinite {
            throw _Errors.invalid(expected: "a number that fits in a Float", found: node.described, path: path())
        }
        return Float(value)
    }

    // MARK: Any value

    /// Decodes a `T` from `node`, the value at `depth`.
    func unbox<T: Decodable>(_ type: T.Type, _ node: _Node, depth: Int) throws -> T {
        if T.self == String.self {
            return unsafeBitCast(try unboxString(node, { codingPath(depth) }), to: T.self)
        }
        if T.self == Int.self {
            return unsafeBitCast(try unboxInteger(node, Int.self, { codingPath(depth) }), to: T.self)
        }
        if T.self == Double.self {
            return unsafeBitCast(try unboxDouble(node, { codingPath(depth) }), to: T.self)
        }
        if T.self == Bool.self {
            return unsafeBitCast(try unboxBool(node, { codingPath(depth) }), to: T.self)
        }
        if T.self == JSONValue.self {
            return JSONValue(node: node) as! T
        }
        if T.self == Date.self, let date = try unboxDate(node, depth: depth) {
            return date as! T
        }
        if T.self == Data.self, let data = try unboxData(node, depth: depth) {
            return data as! T
        }
        if T.self == URL.self {
            let text = try unboxString(node, { codingPath(depth) })
            guard let url = URL(string: text) else {
                throw _Errors.invalid(expected: "a URL", found: node.described, path: codingPath(depth))
            }
            return url as! T
        }
        // `[String: V]` straight from jansson's object: the standard library's generic path goes
        // through `allKeys` and a dynamic cast of the key array, several times slower.
        // Arrays of scalars without a container per array and a generic call per element.
        if T.self == [String].self {
            return unsafeBitCast(try unboxArray(node, depth: depth) { try unboxString($0, $1) }, to: T.self)
        }
        if T.self == [Int].self {
            return unsafeBitCast(try unboxArray(node, depth: depth) { try unboxInteger($0, Int.self, $1) }, to: T.self)
        }
        if T.self == [Double].self {
            return unsafeBitCast(try unboxArray(node, depth: depth) { try unboxDouble($0, $1) }, to: T.self)
        }
        // A dictionary is one reference: the size test spares other types the conformance look-up,
        // which costs as much as decoding a small object's field.
        if usesDefaultKeys, MemoryLayout<T>.size == MemoryLayout<[String: Int]>.size, node.kind == .object,
            let dictionary = T.self as? any _JSONStringKeyedDictionary.Type
        {
            return try dictionary._decode(from: node, state: self, depth: depth) as! T
        }
        return try T(from: _Decoder(state: self, node: node, depth: depth))
    }

    /// An array of scalars, each read by `element` (given the node and its path).
    @inline(__always)
    func unboxArray<E>(
        _ node: _Node,
        depth: Int,
        _ element: (_Node, () -> [any CodingKey]) throws -> E
    ) throws -> [E] {
        guard node.kind == .array else {
            let path = codingPath(depth)
            if node.isNull { throw _Errors.valueNotFound([Any].self, expected: "an array", path: path) }
            throw _Errors.typeMismatch([Any].self, expected: "an array", found: node.described, path: path)
        }
        if depth >= maxDepth {
            throw _Errors.limit("nesting deeper than \(maxDepth) levels", path: codingPath(depth))
        }
        let count = node.count
        var result: [E] = []
        result.reserveCapacity(count)
        var child = node.firstChild
        for index in 0..<count {
            result.append(try element(child, { codingPath(depth) + [_JSONKey(index: index)] }))
            child = child.next
        }
        return result
    }

    func unboxDate(_ node: _Node, depth: Int) throws -> Date? {
        switch options.dateDecodingStrategy {
        case .deferredToDate:
            return nil
        case .secondsSince1970:
            return Date(timeIntervalSince1970: try unboxDouble(node, { codingPath(depth) }))
        case .millisecondsSince1970:
            return Date(timeIntervalSince1970: try unboxDouble(node, { codingPath(depth) }) / 1000)
        case .iso8601:
            let text = try unboxString(node, { codingPath(depth) })
            guard let date = try? Date.ISO8601FormatStyle().parse(text) else {
                throw _Errors.invalid(expected: "an ISO 8601 date", found: node.described, path: codingPath(depth))
            }
            return date
        case .custom(let body):
            return try body(_Decoder(state: self, node: node, depth: depth))
        }
    }

    func unboxData(_ node: _Node, depth: Int) throws -> Data? {
        switch options.dataDecodingStrategy {
        case .deferredToData:
            return nil
        case .base64:
            let text = try unboxString(node, { codingPath(depth) })
            guard let data = Data(base64Encoded: text) else {
                throw _Errors.invalid(expected: "Base64 data", found: node.described, path: codingPath(depth))
            }
            return data
        case .custom(let body):
            return try body(_Decoder(state: self, node: node, depth: depth))
        }
    }
}

// MARK: - Decoder

struct _Decoder: Decoder {
    let state: _DecoderState
    /// The value's entry alone (its tape's bytes are the state's): three words, so the value fits
    /// an existential's inline buffer and handing it out as `any Decoder` allocates nothing.
    let entry: UnsafePointer<_Entry>
    let depth: Int

    init(state: _DecoderState, node: _Node, depth: Int) {
        self.state = state
        self.entry = node.entry
        self.depth = depth
    }

    var node: _Node { _Node(entry: entry, base: state.tape.base) }

    var codingPath: [any CodingKey] { state.codingPath(depth) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard node.kind == .object else {
            if node.isNull { throw _Errors.valueNotFound([String: Any].self, expected: "an object", path: codingPath) }
            throw _Errors.typeMismatch(
                [String: Any].self,
                expected: "an object",
                found: node.described,
                path: codingPath
            )
        }
        try checkDepth()
        return state.keyedContainer(Key.self, object: node, depth: depth)
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard node.kind == .array else {
            if node.isNull { throw _Errors.valueNotFound([Any].self, expected: "an array", path: codingPath) }
            throw _Errors.typeMismatch([Any].self, expected: "an array", found: node.described, path: codingPath)
        }
        try checkDepth()
        return _UnkeyedDecoder(state: state, array: node, depth: depth, count: node.count)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        _SingleValueDecoder(state: state, node: node, depth: depth)
    }

    private func checkDepth() throws {
        if depth >= state.maxDepth {
            throw _Errors.limit("nesting deeper than \(state.maxDepth) levels", path: codingPath)
        }
    }
}

// MARK: - Keyed container

/// An entry of the shared state's container cache.
struct _CachedContainer {
    var key: ObjectIdentifier? = nil
    /// The `KeyedDecodingContainer`'s box.
    var box: AnyObject? = nil
    var frame: _KeyedFrame? = nil
}

/// What a keyed container reads: a class, so that a cached container can be pointed at another
/// object. Its fields change only in `reset`, while no container refers to it.
final class _KeyedFrame {
    /// The state owns its frames (cached or transient), so it outlives them: no reference count.
    let stateRef: Unmanaged<_DecoderState>
    var state: _DecoderState { stateRef.takeUnretainedValue() }
    // Exclusivity: every access is a plain load or store, none spans a call.
    @exclusivity(unchecked) private(set) var object: _Node
    @exclusivity(unchecked) private(set) var depth: Int
    /// For key strategies other than `useDefaultKeys`: converted key → value.
    @exclusivity(unchecked) private(set) var converted: [String: _Node]?
    /// The key of the member after the one last read by `decode` (`nil` past the last): types
    /// read their keys in the order they are written, so the next key asked for is most often
    /// this one, found with one comparison.
    @exclusivity(unchecked) var cursor: _Node?
    /// How many members are left from `cursor` on.
    @exclusivity(unchecked) var remaining: Int = 0

    init(state: _DecoderState, object: _Node, depth: Int) {
        self.stateRef = Unmanaged.passUnretained(state)
        self.object = object
        self.depth = depth
        self.converted = nil
        self.cursor = nil
        convertKeys()
    }

    func reset(object: _Node, depth: Int) {
        self.object = object
        self.depth = depth
        converted = nil
        convertKeys()
    }

    private func convertKeys() {
        if state.usesDefaultKeys {
            remaining = object.count
            cursor = remaining > 0 ? object.firstChild : nil
            return
        }
        cursor = nil
        remaining = 0
        switch state.options.keyDecodingStrategy {
        case .useDefaultKeys:
            converted = nil
        case .convertFromSnakeCase:
            var map: [String: _Node] = [:]
            object.forEachMember { key, value in
                let converted = _KeyConversion.fromSnakeCase(key.string)
                if map[converted] == nil { map[converted] = value }
            }
            converted = map
        case .custom(let convert):
            var map: [String: _Node] = [:]
            let base = state.codingPath(depth)
            object.forEachMember { key, value in
                let converted = convert(base + [_JSONKey(stringValue: key.string)]).stringValue
                if map[converted] == nil { map[converted] = value }
            }
            converted = map
        }
    }

    /// The member named `name`: the one at the cursor if it matches (then the cursor moves on),
    /// else a scan of the members (the last match when keys may repeat).
    @inline(__always)
    func member(_ name: String, advancing: Bool) -> _Node? {
        if let converted { return converted[name] }
        if let found = name.utf8.withContiguousStorageIfAvailable({ utf8 -> _Node? in
            find(UnsafeRawBufferPointer(utf8), advancing: advancing)
        }) {
            return found
        }
        return object.member(name)
    }

    @inline(__always)
    private func find(_ name: UnsafeRawBufferPointer, advancing: Bool) -> _Node? {
        if let cursor, cursor.keyEquals(name), !state.allowsDuplicateKeys {
            let value = _Node(entry: cursor.entry + 1, base: cursor.base)
            if advancing {
                remaining -= 1
                self.cursor = remaining > 0 ? value.next : nil
            }
            return value
        }
        return scan(name, advancing: advancing)
    }

    /// Looks `name` up among all the members (out of order, repeated or missing keys).
    private func scan(_ name: UnsafeRawBufferPointer, advancing: Bool) -> _Node? {
        var key = object.firstChild
        var found: _Node? = nil
        var left = 0
        let count = object.count
        for index in 0..<count {
            let value = _Node(entry: key.entry + 1, base: key.base)
            if key.keyEquals(name) {
                found = value
                left = count - index - 1
                if !state.allowsDuplicateKeys { break }
            }
            key = value.next
        }
        if let found, advancing, !state.allowsDuplicateKeys {
            remaining = left
            cursor = left > 0 ? found.next : nil
        }
        return found
    }
}

struct _KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    /// Owned by the state (see `_DecoderState.keyedContainer`), which outlives the decode's
    /// containers: without a reference count, the container is plain data, which
    /// `KeyedDecodingContainer`'s box copies for every call without retaining anything.
    let frameRef: Unmanaged<_KeyedFrame>

    init(frame: _KeyedFrame) {
        self.frameRef = Unmanaged.passUnretained(frame)
    }

    var frame: _KeyedFrame { frameRef.takeUnretainedValue() }
    var state: _DecoderState { frame.state }

    /// Calls `body` with the state and the value for `key` (a missing key throws `<path>: is
    /// required`), for a scalar: no path is built unless an error needs it. The frame and the
    /// state are used without retaining them (their owner, the state, outlives the decode).
    @inline(__always)
    private func withScalar<R>(_ key: Key, _ body: (_DecoderState, _Node) throws -> R) throws -> R {
        try frameRef._withUnsafeGuaranteedRef { frame in
            guard let node = frame.member(key.stringValue, advancing: true) else {
                throw _Errors.keyNotFound(key, path: codingPath)
            }
            return try frame.stateRef._withUnsafeGuaranteedRef { state in try body(state, node) }
        }
    }

    /// As `withScalar`, for `decodeIfPresent`: `nil` when the key is missing or `null`.
    @inline(__always)
    private func withScalarIfPresent<R>(_ key: Key, _ body: (_DecoderState, _Node) throws -> R) throws -> R? {
        try frameRef._withUnsafeGuaranteedRef { frame in
            guard let node = frame.member(key.stringValue, advancing: true), !node.isNull else { return nil }
            return try frame.stateRef._withUnsafeGuaranteedRef { state in try body(state, node) }
        }
    }
    var object: _Node { frame.object }
    var depth: Int { frame.depth }

    var codingPath: [any CodingKey] { state.codingPath(depth) }

    private var _allKeys: [Key] {
        if let converted = frame.converted { return converted.keys.compactMap { Key(stringValue: $0) } }
        var keys: [Key] = []
        object.forEachMember { key, _ in
            if let key = Key(stringValue: key.string) { keys.append(key) }
        }
        return keys
    }

    var allKeys: [Key] { _allKeys }

    func contains(_ key: Key) -> Bool { frame.member(key.stringValue, advancing: false) != nil }

    @inline(__always)
    private func lookup(_ key: Key) -> _Node? {
        frame.member(key.stringValue, advancing: true)
    }

    /// The value for `key`, with the path set to it (for decoding below it); a missing key
    /// throws `<path>: is required`.
    @inline(__always)
    private func value(_ key: Key) throws -> _Node {
        guard let node = lookup(key) else { throw _Errors.keyNotFound(key, path: codingPath) }
        state.setPath(depth, key)
        return node
    }

    /// The value for `key`, for a scalar: the path is only built if an error needs it.
    @inline(__always)
    private func scalar(_ key: Key) throws -> _Node {
        guard let node = lookup(key) else { throw _Errors.keyNotFound(key, path: codingPath) }
        return node
    }

    private func path(_ key: Key) -> [any CodingKey] {
        codingPath + [key]
    }

    func decodeNil(forKey key: Key) throws -> Bool { try scalar(key).isNull }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try withScalar(key) { state, node in try state.unboxBool(node, { path(key) }) }
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try withScalar(key) { state, node in try state.unboxString(node, { path(key) }) }
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try withScalar(key) { state, node in try state.unboxDouble(node, { path(key) }) }
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try withScalar(key) { state, node in try state.unboxFloat(node, { path(key) }) }
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try withScalar(key) { state, node in
            let depth = self.depth
            state.setPath(depth, key)
            return try state.unbox(type, node, depth: depth + 1)
        }
    }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ key: Key) throws -> I {
        try withScalar(key) { state, node in try state.unboxInteger(node, I.self, { path(key) }) }
    }

    @inline(__always)
    private func integerIfPresent<I: FixedWidthInteger>(_ key: Key) throws -> I? {
        try withScalarIfPresent(key) { state, node in try state.unboxInteger(node, I.self, { path(key) }) }
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try withScalarIfPresent(key) { state, node in try state.unboxBool(node, { path(key) }) }
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try withScalarIfPresent(key) { state, node in try state.unboxString(node, { path(key) }) }
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        try withScalarIfPresent(key) { state, node in try state.unboxDouble(node, { path(key) }) }
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        try withScalarIfPresent(key) { state, node in try state.unboxFloat(node, { path(key) }) }
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try integerIfPresent(key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try integerIfPresent(key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try withScalarIfPresent(key) { state, node in
            let depth = self.depth
            state.setPath(depth, key)
            return try state.unbox(type, node, depth: depth + 1)
        }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try _Decoder(state: state, node: value(key), depth: depth + 1).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try _Decoder(state: state, node: value(key), depth: depth + 1).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        state.setPath(depth, _JSONKey.super)
        return _Decoder(state: state, node: object.member("super") ?? _nullNode, depth: depth + 1)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        state.setPath(depth, key)
        return _Decoder(state: state, node: lookup(key) ?? _nullNode, depth: depth + 1)
    }
}

// MARK: - Unkeyed container

struct _UnkeyedDecoder: UnkeyedDecodingContainer {
    let state: _DecoderState
    let array: _Node
    let depth: Int
    let count: Int?
    private(set) var currentIndex = 0 {
        didSet { next = next.next }
    }
    /// The element at `currentIndex` (past the end once `currentIndex == count`).
    private var next: _Node

    init(state: _DecoderState, array: _Node, depth: Int, count: Int) {
        self.state = state
        self.array = array
        self.depth = depth
        self.count = count
        self.next = array.firstChild
    }

    var codingPath: [any CodingKey] { state.codingPath(depth) }
    var isAtEnd: Bool { currentIndex >= count! }

    /// The next element, with the path set to it. Past the end throws `<path>.<index>: is required`.
    @inline(__always)
    private func peek(_ type: Any.Type) throws -> _Node {
        guard currentIndex < count! else {
            let path = codingPath + [_JSONKey(index: currentIndex)]
            throw DecodingError.valueNotFound(
                type,
                .init(codingPath: path, debugDescription: "\(_dottedPath(path)): is required")
            )
        }
        return next
    }

    /// The next element, with the path set to it, for decoding below it.
    @inline(__always)
    private func descend(_ type: Any.Type) throws -> _Node {
        let node = try peek(type)
        state.setPath(depth, _JSONKey(index: currentIndex))
        return node
    }

    private func path() -> [any CodingKey] { codingPath + [_JSONKey(index: currentIndex)] }

    mutating func decodeNil() throws -> Bool {
        if try peek(Never.self).isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let value = try state.unboxBool(peek(type), path)
        currentIndex += 1
        return value
    }
    mutating func decode(_ type: String.Type) throws -> String {
        let value = try state.unboxString(peek(type), path)
        currentIndex += 1
        return value
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let value = try state.unboxDouble(peek(type), path)
        currentIndex += 1
        return value
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let value = try state.unboxFloat(peek(type), path)
        currentIndex += 1
        return value
    }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let value = try state.unbox(type, descend(type), depth: depth + 1)
        currentIndex += 1
        return value
    }

    @inline(__always)
    private mutating func integer<I: FixedWidthInteger>() throws -> I {
        let value = try state.unboxInteger(peek(I.self), I.self, path)
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try _Decoder(state: state, node: descend(type), depth: depth + 1).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try _Decoder(state: state, node: descend([Any].self), depth: depth + 1).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = _Decoder(state: state, node: try descend(Never.self), depth: depth + 1)
        currentIndex += 1
        return decoder
    }
}

// MARK: - Single value container

struct _SingleValueDecoder: SingleValueDecodingContainer {
    let state: _DecoderState
    /// The value's entry alone (its tape's bytes are the state's): three words, so the value fits
    /// an existential's inline buffer and handing it out as `any SingleValueDecodingContainer` allocates nothing.
    let entry: UnsafePointer<_Entry>
    let depth: Int

    init(state: _DecoderState, node: _Node, depth: Int) {
        self.state = state
        self.entry = node.entry
        self.depth = depth
    }

    var node: _Node { _Node(entry: entry, base: state.tape.base) }

    var codingPath: [any CodingKey] { state.codingPath(depth) }

    private func path() -> [any CodingKey] { codingPath }

    func decodeNil() -> Bool { node.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try state.unboxBool(node, path) }
    func decode(_ type: String.Type) throws -> String { try state.unboxString(node, path) }
    func decode(_ type: Double.Type) throws -> Double { try state.unboxDouble(node, path) }
    func decode(_ type: Float.Type) throws -> Float { try state.unboxFloat(node, path) }
    func decode(_ type: Int.Type) throws -> Int { try state.unboxInteger(node, type, path) }
    func decode(_ type: Int8.Type) throws -> Int8 { try state.unboxInteger(node, type, path) }
    func decode(_ type: Int16.Type) throws -> Int16 { try state.unboxInteger(node, type, path) }
    func decode(_ type: Int32.Type) throws -> Int32 { try state.unboxInteger(node, type, path) }
    func decode(_ type: Int64.Type) throws -> Int64 { try state.unboxInteger(node, type, path) }
    func decode(_ type: UInt.Type) throws -> UInt { try state.unboxInteger(node, type, path) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try state.unboxInteger(node, type, path) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try state.unboxInteger(node, type, path) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try state.unboxInteger(node, type, path) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try state.unboxInteger(node, type, path) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try state.unbox(type, node, depth: depth) }
}

// MARK: - String-keyed dictionaries

protocol _JSONStringKeyedDictionary {
    static func _decode(from node: _Node, state: _DecoderState, depth: Int) throws -> Self
}

extension Dictionary: _JSONStringKeyedDictionary where Key == String, Value: Decodable {
    static func _decode(from node: _Node, state: _DecoderState, depth: Int) throws -> Self {
        guard node.kind == .object else {
            let path = state.codingPath(depth)
            if node.isNull { throw _Errors.valueNotFound([String: Any].self, expected: "an object", path: path) }
            throw _Errors.typeMismatch([String: Any].self, expected: "an object", found: node.described, path: path)
        }
        if depth >= state.maxDepth {
            throw _Errors.limit("nesting deeper than \(state.maxDepth) levels", path: state.codingPath(depth))
        }
        // Scalar values with specialized code: in the generic code below, each dictionary
        // operation asks the runtime for `_NativeDictionary<String, Value>`'s metadata.
        if Value.self == String.self {
            return unsafeBitCast(try _scalars(node, state, depth) { try state.unboxString($0, $1) }, to: Self.self)
        }
        if Value.self == Int.self {
            return unsafeBitCast(
                try _scalars(node, state, depth) { try state.unboxInteger($0, Int.self, $1) },
                to: Self.self
            )
        }
        if Value.self == Double.self {
            return unsafeBitCast(try _scalars(node, state, depth) { try state.unboxDouble($0, $1) }, to: Self.self)
        }
        if Value.self == Bool.self {
            return unsafeBitCast(try _scalars(node, state, depth) { try state.unboxBool($0, $1) }, to: Self.self)
        }
        var result: [String: Value] = [:]
        result.reserveCapacity(node.count)
        try node.forEachMember { key, value in
            let name = key.string
            state.setPath(depth, _JSONKey(stringValue: name))
            result[name] = try state.unbox(Value.self, value, depth: depth + 1)
        }
        return result
    }

    /// The members of `node`, each read by `element` (given the node and its path).
    @inline(__always)
    private static func _scalars<V>(
        _ node: _Node,
        _ state: _DecoderState,
        _ depth: Int,
        _ element: (_Node, () -> [any CodingKey]) throws -> V
    ) throws -> [String: V] {
        var result: [String: V] = [:]
        result.reserveCapacity(node.count)
        try node.forEachMember { key, value in
            let name = key.string
            result[name] = try element(value, { state.codingPath(depth) + [_JSONKey(stringValue: name)] })
        }
        return result
    }
}
