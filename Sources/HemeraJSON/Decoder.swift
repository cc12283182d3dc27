// The decoder: walks jansson's tree directly, with no intermediate JSONValue.
public import FoundationEssentials
internal import CJansson

/// Decodes `Decodable` values from JSON, with the strategies of Foundation's `JSONDecoder`.
///
/// jansson parses; the decoder then reads jansson's tree in place (keyed lookups go straight
/// to jansson's hash table).
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
/// - Invalid JSON, invalid UTF-8, truncated input: `DecodingError.dataCorrupted` with a
///   ``JSONSyntaxError`` (line, column, jansson's reason).
/// - `\u0000` in string values is accepted (Swift strings hold NUL, as Foundation and JavaScript
///   do); in object keys jansson rejects it (`NUL byte in object key not supported`). A raw NUL
///   byte anywhere in the input is a syntax error (JSON text never contains one; jansson alone
///   would silently stop reading there), as is any other raw control character in a string.
/// - Duplicate keys in an object are rejected (``allowsDuplicateKeys``), since parsers disagree
///   on which one wins.
/// - Nesting deeper than ``maxDepth`` (default 512) is an error. jansson's parser also stops at
///   2048 levels on its own, with `maximum parsing depth reached`.
/// - Integers outside `Int64` are a syntax error (`too big integer`): jansson stores integers as
///   `long long`. So are numbers beyond `Double`'s range (`real number overflow`).
/// - Inputs longer than ``maxInputLength`` are rejected before parsing.
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
    /// It bounds the decoder's recursion (and so its stack use); jansson's parser has its own
    /// fixed limit of 2048.
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
        let document = try parse(buffer)
        let state = _DecoderState(options: self)
        return try state.unbox(type, document.root, depth: 0)
    }

    /// Decodes a `T` from a dynamic ``JSONValue`` tree (keys the type does not know are ignored).
    ///
    /// With ``HemeraJSONEncoder/encode(_:merging:)``, this is the other half of pattern flattening:
    /// the payload type reads its fields from the flat pattern and ignores the routing keys.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        if let value = value as? T { return value }
        let document = _JanssonDocument(adopting: try value.makeNode(depth: 0, maxDepth: maxDepth))
        let state = _DecoderState(options: self)
        return try state.unbox(type, document.root, depth: 0)
    }

    func parse(_ buffer: UnsafeRawBufferPointer) throws(DecodingError) -> _JanssonDocument {
        guard buffer.count <= maxInputLength else {
            throw _Errors.limit("the input has \(buffer.count) bytes, more than the limit of \(maxInputLength)", path: [])
        }
        do {
            return try _JanssonDocument(parsing: buffer, allowDuplicateKeys: allowsDuplicateKeys)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: error.description, underlyingError: error))
        }
    }
}

// MARK: - State

/// One decoding run: options and the coding path, kept as a stack shared by all containers.
final class _DecoderState {
    let options: HemeraJSONDecoder
    // Copies of the options read on hot paths (reading them through `options` copies more).
    let maxDepth: Int
    let convertsStrings: Bool
    let usesDefaultKeys: Bool
    /// `path[i]`: the key being read by the container at depth `i`.
    @exclusivity(unchecked) var path: [any CodingKey] = []

    init(options: HemeraJSONDecoder) {
        self.options = options
        maxDepth = options.maxDepth
        convertsStrings = options.convertsStrings
        if case .useDefaultKeys = options.keyDecodingStrategy { usesDefaultKeys = true } else { usesDefaultKeys = false }
        path.reserveCapacity(8)
    }

    var userInfo: [CodingUserInfoKey: Any] { options.userInfo }

    func codingPath(_ depth: Int) -> [any CodingKey] {
        Array(path.prefix(depth))
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
            let value = node.real
            if let result = I(exactly: value) { return result }
            if value == value.rounded(.towardZero) { throw outOfRange(type, found: node.described, path) }
            throw _Errors.invalid(expected: "an integer", found: node.described, path: path())
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
        _ type: I.Type, found: String, _ path: () -> [any CodingKey]
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
            if case .convertFromString(let positive, let negative, let nan) = options.nonConformingFloatDecodingStrategy {
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
            return try JSONValue(node: node, depth: depth, maxDepth: maxDepth, path: { codingPath(depth) })
                as! T
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
        if usesDefaultKeys, node.kind == .object, let dictionary = T.self as? any _JSONStringKeyedDictionary.Type {
            return try dictionary._decode(from: node, state: self, depth: depth) as! T
        }
        return try T(from: _Decoder(state: self, node: node, depth: depth))
    }

    /// An array of scalars, each read by `element` (given the node and its path).
    @inline(__always)
    func unboxArray<E>(
        _ node: _Node, depth: Int, _ element: (_Node, () -> [any CodingKey]) throws -> E
    ) throws -> [E] {
        guard node.kind == .array else {
            let path = codingPath(depth)
            if node.isNull { throw _Errors.valueNotFound([Any].self, expected: "an array", path: path) }
            throw _Errors.typeMismatch([Any].self, expected: "an array", found: node.described, path: path)
        }
        if depth >= maxDepth {
            throw _Errors.limit("nesting deeper than \(maxDepth) levels", path: codingPath(depth))
        }
        let count = node.arrayCount
        var result: [E] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(try element(node.element(index)!, { codingPath(depth) + [_JSONKey(index: index)] }))
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
    let node: _Node
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath(depth) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard node.kind == .object else {
            if node.isNull { throw _Errors.valueNotFound([String: Any].self, expected: "an object", path: codingPath) }
            throw _Errors.typeMismatch([String: Any].self, expected: "an object", found: node.described, path: codingPath)
        }
        try checkDepth()
        return KeyedDecodingContainer(_KeyedDecoder<Key>(state: state, object: node, depth: depth))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard node.kind == .array else {
            if node.isNull { throw _Errors.valueNotFound([Any].self, expected: "an array", path: codingPath) }
            throw _Errors.typeMismatch([Any].self, expected: "an array", found: node.described, path: codingPath)
        }
        try checkDepth()
        return _UnkeyedDecoder(state: state, array: node, depth: depth, count: node.arrayCount)
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

struct _KeyedDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let state: _DecoderState
    let object: _Node
    let depth: Int
    /// For key strategies other than `useDefaultKeys`: converted key → value.
    let converted: [String: _Node]?

    init(state: _DecoderState, object: _Node, depth: Int) {
        self.state = state
        self.object = object
        self.depth = depth
        if state.usesDefaultKeys {
            converted = nil
            return
        }
        switch state.options.keyDecodingStrategy {
        case .useDefaultKeys:
            converted = nil
        case .convertFromSnakeCase:
            var map: [String: _Node] = [:]
            object.forEachMember { key, value in
                let converted = _KeyConversion.fromSnakeCase(String(decoding: key, as: UTF8.self))
                if map[converted] == nil { map[converted] = value }
            }
            converted = map
        case .custom(let convert):
            var map: [String: _Node] = [:]
            let base = state.codingPath(depth)
            object.forEachMember { key, value in
                let converted = convert(base + [_JSONKey(stringValue: String(decoding: key, as: UTF8.self))]).stringValue
                if map[converted] == nil { map[converted] = value }
            }
            converted = map
        }
    }

    var codingPath: [any CodingKey] { state.codingPath(depth) }

    var allKeys: [Key] {
        if let converted { return converted.keys.compactMap { Key(stringValue: $0) } }
        var keys: [Key] = []
        object.forEachMember { key, _ in
            if let key = Key(stringValue: String(decoding: key, as: UTF8.self)) { keys.append(key) }
        }
        return keys
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    @inline(__always)
    private func lookup(_ key: Key) -> _Node? {
        if let converted { return converted[key.stringValue] }
        return object.member(key.stringValue)
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

    /// The value for `key`, or `nil` when the key is missing or `null` (for a scalar).
    @inline(__always)
    private func valueIfPresent(_ key: Key) -> _Node? {
        guard let node = lookup(key), !node.isNull else { return nil }
        return node
    }

    private func path(_ key: Key) -> [any CodingKey] {
        codingPath + [key]
    }

    func decodeNil(forKey key: Key) throws -> Bool { try scalar(key).isNull }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try state.unboxBool(scalar(key), { path(key) })
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try state.unboxString(scalar(key), { path(key) })
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try state.unboxDouble(scalar(key), { path(key) })
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try state.unboxFloat(scalar(key), { path(key) })
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
        try state.unbox(type, value(key), depth: depth + 1)
    }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ key: Key) throws -> I {
        try state.unboxInteger(scalar(key), I.self, { path(key) })
    }

    @inline(__always)
    private func integerIfPresent<I: FixedWidthInteger>(_ key: Key) throws -> I? {
        guard let node = valueIfPresent(key) else { return nil }
        return try state.unboxInteger(node, I.self, { path(key) })
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let node = valueIfPresent(key) else { return nil }
        return try state.unboxBool(node, { path(key) })
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let node = valueIfPresent(key) else { return nil }
        return try state.unboxString(node, { path(key) })
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let node = valueIfPresent(key) else { return nil }
        return try state.unboxDouble(node, { path(key) })
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        guard let node = valueIfPresent(key) else { return nil }
        return try state.unboxFloat(node, { path(key) })
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
        guard let node = lookup(key) else { return nil }
        if node.isNull { return nil }
        state.setPath(depth, key)
        return try state.unbox(type, node, depth: depth + 1)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
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
    private(set) var currentIndex = 0

    init(state: _DecoderState, array: _Node, depth: Int, count: Int) {
        self.state = state
        self.array = array
        self.depth = depth
        self.count = count
    }

    var codingPath: [any CodingKey] { state.codingPath(depth) }
    var isAtEnd: Bool { currentIndex >= count! }

    /// The next element, with the path set to it. Past the end throws `<path>.<index>: is required`.
    @inline(__always)
    private func peek(_ type: Any.Type) throws -> _Node {
        guard currentIndex < count!, let node = array.element(currentIndex) else {
            let path = codingPath + [_JSONKey(index: currentIndex)]
            throw DecodingError.valueNotFound(
                type, .init(codingPath: path, debugDescription: "\(_dottedPath(path)): is required"))
        }
        return node
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
    let node: _Node
    let depth: Int

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
        var result: [String: Value] = [:]
        result.reserveCapacity(json_object_size(node))
        try node.forEachMember { key, value in
            let name = String(decoding: key, as: UTF8.self)
            state.setPath(depth, _JSONKey(stringValue: name))
            result[name] = try state.unbox(Value.self, value, depth: depth + 1)
        }
        return result
    }
}
