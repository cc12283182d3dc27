// The encoder: writes JSON text in one pass, straight into a byte buffer.
public import FoundationEssentials

/// Encodes `Encodable` values as JSON, with the strategies of Foundation's `JSONEncoder`.
///
/// It writes the JSON text in one pass, into one buffer, without building a tree first: the
/// hot path allocates the output and one box per keyed container, nothing per value.
///
/// ```swift
/// struct Add: Codable { var a: Int; var b: Int }
/// let bytes = try HemeraJSONEncoder().encode(Add(a: 1, b: 2))   // {"a":1,"b":2}
/// ```
///
/// Differences from Foundation, all deliberate:
/// - `UInt64`/`UInt` values above `Int64.max` throw: jansson, the parser on the other side,
///   cannot read them back.
/// - Containers are written in the order the `encode(to:)` code uses them. Going back to a
///   container after one of its parents has moved on to another member throws an
///   `EncodingError` (synthesized conformances never do this).
/// - A key encoded twice into one keyed container is written twice (Foundation keeps the last
///   value); ``HemeraJSONDecoder`` rejects such output as having duplicate keys. Synthesized
///   conformances never do this.
/// - `Decimal` is encoded through its own `Codable` conformance (an object), not as a number.
/// - There is no `.formatted(DateFormatter)` date strategy (`DateFormatter` is not in
///   FoundationEssentials); use `.custom`.
/// - `.prettyPrinted` output always has its keys sorted.
/// - Slashes are not escaped (`"a/b"`, not `"a\/b"`): both are the same JSON string.
public struct HemeraJSONEncoder: Sendable {
    /// How keys are written.
    public enum KeyEncodingStrategy: Sendable {
        /// The keys of the types, as they are.
        case useDefaultKeys
        /// `myProperty` becomes `my_property`.
        case convertToSnakeCase
        /// A function of the coding path (whose last element is the key to convert).
        case custom(@Sendable (_ codingPath: [any CodingKey]) -> any CodingKey)
    }

    /// How `Date` values are written.
    public enum DateEncodingStrategy: Sendable {
        /// `Date`'s own `Codable`: seconds since 2001-01-01 as a number.
        case deferredToDate
        /// Seconds since 1970-01-01 as a number.
        case secondsSince1970
        /// Milliseconds since 1970-01-01 as a number.
        case millisecondsSince1970
        /// An ISO 8601 string such as `2024-05-01T12:00:00Z`.
        case iso8601
        /// A function that encodes the date into the given encoder.
        case custom(@Sendable (Date, any Encoder) throws -> Void)
    }

    /// How `Data` values are written.
    public enum DataEncodingStrategy: Sendable {
        /// `Data`'s own `Codable`: an array of byte values.
        case deferredToData
        /// A Base64 string.
        case base64
        /// A function that encodes the data into the given encoder.
        case custom(@Sendable (Data, any Encoder) throws -> Void)
    }

    /// How infinities and NaN are written (JSON has no literal for them).
    public enum NonConformingFloatEncodingStrategy: Sendable {
        /// Throw an `EncodingError`.
        case `throw`
        /// Write the given strings instead.
        case convertToString(positiveInfinity: String, negativeInfinity: String, nan: String)
    }

    /// The layout of the output.
    public struct OutputFormatting: OptionSet, Sendable {
        public let rawValue: UInt
        public init(rawValue: UInt) { self.rawValue = rawValue }
        /// Indented, one member per line (keys are then sorted too).
        public static let prettyPrinted = OutputFormatting(rawValue: 1 << 0)
        /// Keys in byte order of their UTF-8, so equal values give equal bytes.
        public static let sortedKeys = OutputFormatting(rawValue: 1 << 1)
    }

    /// How keys are written. Default: ``KeyEncodingStrategy/useDefaultKeys``.
    public var keyEncodingStrategy: KeyEncodingStrategy = .useDefaultKeys
    /// How dates are written. Default: ``DateEncodingStrategy/deferredToDate``, as Foundation.
    public var dateEncodingStrategy: DateEncodingStrategy = .deferredToDate
    /// How `Data` is written. Default: ``DataEncodingStrategy/base64``.
    public var dataEncodingStrategy: DataEncodingStrategy = .base64
    /// How infinities and NaN are written. Default: ``NonConformingFloatEncodingStrategy/throw``.
    public var nonConformingFloatEncodingStrategy: NonConformingFloatEncodingStrategy = .throw
    /// The layout. Default: compact, keys in the order the types encode them.
    public var outputFormatting: OutputFormatting = []
    /// Values for `Encoder.userInfo`, for the types' `encode(to:)`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]
    /// The deepest nesting written; deeper throws an `EncodingError` (the decoder's default limit
    /// is the same). Default: 512.
    public var maxDepth = 512

    /// Creates an encoder with Foundation's defaults.
    public init() {}

    /// Encodes `value` as UTF-8 JSON bytes.
    ///
    /// - Throws: `EncodingError.invalidValue` for a non-finite float (under the `.throw` strategy),
    ///   an integer above `Int64.max`, nesting deeper than ``maxDepth``, or a value that encodes nothing.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try encode(value, merging: nil)
    }

    /// Encodes `value` into a dynamic ``JSONValue`` tree.
    ///
    /// Numbers take the form they have on the wire: `1.0` becomes `.integer(1)`.
    public func encodeToValue<T: Encodable>(_ value: T) throws -> JSONValue {
        if let value = value as? JSONValue { return value }
        return try JSONValue(parsing: encode(value), maxDepth: maxDepth)
    }

    /// Encodes `value`, which must encode as a JSON object, with `extraMembers` added to that
    /// object: one flat object, as a Hemera pattern travels.
    ///
    /// This is the cheap way to send a typed pattern: the routing keys (`topic`, `cmd`) and the
    /// payload's fields are written into one object in one pass, with no intermediate tree.
    ///
    /// ```swift
    /// struct Add: Codable { var a: Int; var b: Int }
    /// let bytes = try HemeraJSONEncoder().encode(Add(a: 1, b: 2), merging: ["topic": "math", "cmd": "add"])
    /// // {"cmd":"add","topic":"math","a":1,"b":2}
    /// ```
    ///
    /// On the receiving side, `HemeraJSONDecoder().decode(Add.self, from: bytes)` ignores the
    /// extra keys.
    ///
    /// - Throws: `EncodingError.invalidValue` when `value` does not encode as an object, or when
    ///   one of its keys is also in `extraMembers` (`topic: the key is both in the value and in
    ///   the extra members`).
    public func encode<T: Encodable>(_ value: T, merging extraMembers: [String: JSONValue]?) throws -> [UInt8] {
        if let extraMembers, let tree = value as? JSONValue {
            guard case .object(var members) = tree else {
                throw _Errors.encoding(value, "only a value that encodes as an object can be merged with extra members", path: [])
            }
            for (key, member) in extraMembers {
                guard members.updateValue(member, forKey: key) == nil else {
                    throw _Errors.encoding(key, "the key is both in the value and in the extra members", path: [_JSONKey(stringValue: key)])
                }
            }
            return try encode(JSONValue.object(members), merging: nil)
        }
        let state = _EncoderState(options: self, extraMembers: extraMembers)
        try state.encodeTopLevel(value)
        if outputFormatting.isEmpty {
            return state.buffer.toArray()
        }
        // Sorting or indenting needs the whole tree: write it a second time from the parsed first pass.
        let tree = try JSONValue(
            parsing: UnsafeRawBufferPointer(start: state.buffer.base, count: state.buffer.count), maxDepth: maxDepth)
        var buffer = _ByteBuffer(capacity: state.buffer.count + 64)
        try buffer.appendTree(tree, options: treeOptions(forceSorted: true), depth: 0, path: [])
        return buffer.toArray()
    }

    /// Encodes `value`, which must encode as a JSON object, into a ``JSONValue`` with
    /// `extraMembers` added. See ``encode(_:merging:)``.
    public func encodeToValue<T: Encodable>(_ value: T, merging extraMembers: [String: JSONValue]) throws -> JSONValue {
        try JSONValue(parsing: encode(value, merging: extraMembers), maxDepth: maxDepth)
    }

    func treeOptions(forceSorted: Bool = false) -> _TreeWriteOptions {
        _TreeWriteOptions(
            sortedKeys: forceSorted || outputFormatting.contains(.sortedKeys),
            pretty: outputFormatting.contains(.prettyPrinted),
            nonConformingFloat: nonConformingFloatEncodingStrategy,
            maxDepth: maxDepth
        )
    }
}

// MARK: - State

/// One encoding run: the output, the stack of open containers, the coding path.
///
/// Containers and encoders are small structs pointing here. A container is identified by its
/// index in `frames` and a serial number, so that one used after it was closed is detected.
final class _EncoderState {
    struct Frame {
        var serial: Int
        var isObject: Bool
        var count: Int
        /// A `superEncoder` handed out for this frame's last member, which may still be empty.
        var pendingSuper: Bool
    }

    @exclusivity(unchecked) var buffer = _ByteBuffer(capacity: 1024)
    @exclusivity(unchecked) var frames: [Frame] = []
    /// `path[i]`: the key of the member being written in the object `frames[i]`, recorded only
    /// for members that can observe it (a nested value's `encode(to:)`, nested containers,
    /// `superEncoder`, a custom key strategy, errors); a string, number or Boolean member does not.
    /// An array's level of the path is its frame's element count (see ``codingPath(_:)``).
    @exclusivity(unchecked) var path: [any CodingKey] = []
    /// `filled[d]`: whether the value slot at depth `d` has received its value.
    @exclusivity(unchecked) var filled: [Bool] = []
    @exclusivity(unchecked) var serial = 0
    let options: HemeraJSONEncoder
    let extraMembers: [String: JSONValue]?
    // Copies of the options read on hot paths (reading them through `options` copies more).
    let maxDepth: Int
    let usesDefaultKeys: Bool
    /// The first misuse seen in a non-throwing call (`container(keyedBy:)` twice with another
    /// kind…), thrown when the top-level call returns.
    @exclusivity(unchecked) var failure: EncodingError?

    init(options: HemeraJSONEncoder, extraMembers: [String: JSONValue]?) {
        self.options = options
        self.extraMembers = extraMembers
        maxDepth = options.maxDepth
        if case .useDefaultKeys = options.keyEncodingStrategy { usesDefaultKeys = true } else { usesDefaultKeys = false }
        frames.reserveCapacity(8)
        filled.reserveCapacity(8)
        // `path` grows only when a member records its key (none for a flat object of scalars).
    }

    func codingPath(_ depth: Int) -> [any CodingKey] {
        var result: [any CodingKey] = []
        result.reserveCapacity(depth)
        for level in 0..<depth {
            if level < frames.count && !frames[level].isObject {
                result.append(_JSONKey(index: frames[level].count - 1))
            } else if level < path.count {
                result.append(path[level])
            } else {
                break
            }
        }
        return result
    }

    var userInfo: [CodingUserInfoKey: Any] { options.userInfo }

    func fail(_ error: EncodingError) {
        if failure == nil { failure = error }
    }

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        do {
            try encodeValue(value, depth: 0)
        } catch {
            throw failure ?? error
        }
        if let failure { throw failure }
        if extraMembers != nil && buffer.base[0] != UInt8(ascii: "{") {
            throw _Errors.encoding(value, "only a value that encodes as an object can be merged with extra members", path: [])
        }
    }

    // MARK: Slots

    @inline(__always)
    func beginSlot(_ depth: Int) {
        if filled.count > depth { filled[depth] = false } else {
            while filled.count < depth { filled.append(true) }
            filled.append(false)
        }
    }

    /// Writes `value` into the value slot at `depth`, whose key (if any) is already written.
    func encodeValue<T: Encodable>(_ value: T, depth: Int) throws {
        if try encodeScalar(value, depth: depth) { return }
        if let special = try encodeSpecial(value, depth: depth), special { return }
        beginSlot(depth)
        try value.encode(to: _Encoder(state: self, depth: depth))
        try endSlot(depth, value: value)
    }

    /// Closes what the slot at `depth` opened; an empty slot becomes `{}` as in Foundation.
    /// (Generic, not `Any`: boxing `value` into an existential on every call would copy it.)
    @inline(__always)
    func endSlot<T>(_ depth: Int, value: T) throws {
        closeFrames(above: depth - 1)
        if !filled[depth] {
            if depth == 0 {
                throw _Errors.encoding(value, "\(type(of: value)) did not encode any values", path: [])
            }
            openFrame(isObject: true, depth: depth)
            closeFrames(above: depth - 1)
        }
    }

    /// Runs a custom strategy closure as the encoder of the slot at `depth`.
    func encodeCustom(depth: Int, value: Any, _ body: (_Encoder) throws -> Void) throws {
        beginSlot(depth)
        try body(_Encoder(state: self, depth: depth))
        try endSlot(depth, value: value)
    }

    /// Strings, numbers and Booleans reached through a generic call (`[String]`'s elements,
    /// `[String: Int]`'s values…) are written as their own `encode(to:)` would write them through
    /// a single-value container, without going through it. Returns `true` when `value` was written.
    ///
    /// `unsafeBitCast` is the identity here: each cast runs only when `T` is the type cast to.
    @inline(__always)
    func encodeScalar<T: Encodable>(_ value: T, depth: Int) throws -> Bool {
        if T.self == String.self {
            markFilled(depth)
            buffer.appendString(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            markFilled(depth)
            buffer.appendInteger(unsafeBitCast(value, to: Int.self))
        } else if T.self == Double.self {
            markFilled(depth)
            try writeDouble(unsafeBitCast(value, to: Double.self), depth: depth)
        } else if T.self == Bool.self {
            markFilled(depth)
            if unsafeBitCast(value, to: Bool.self) { buffer.appendASCII("true") } else { buffer.appendASCII("false") }
        } else if T.self == Int64.self {
            markFilled(depth)
            buffer.appendInteger(unsafeBitCast(value, to: Int64.self))
        } else if T.self == Int32.self {
            markFilled(depth)
            buffer.appendInteger(unsafeBitCast(value, to: Int32.self))
        } else if T.self == Float.self {
            markFilled(depth)
            try writeFloat(unsafeBitCast(value, to: Float.self), depth: depth)
        } else {
            return false
        }
        return true
    }

    /// Marks the slot at `depth` filled, as a single-value write through ``beginSlot(_:)`` leaves it.
    @inline(__always)
    func markFilled(_ depth: Int) {
        if filled.count <= depth { beginSlot(depth) }
        filled[depth] = true
    }

    /// Dates, data, URLs and JSONValue take a shortcut. Returns `true` when `value` was written.
    @inline(__always)
    func encodeSpecial<T: Encodable>(_ value: T, depth: Int) throws -> Bool? {
        if T.self == JSONValue.self {
            try writeTree(value as! JSONValue, depth: depth)
            return true
        }
        if T.self == Date.self { return try encodeDate(value as! Date, depth: depth) }
        if T.self == Data.self { return try encodeData(value as! Data, depth: depth) }
        if T.self == URL.self {
            scalarWillBeWritten(depth)
            buffer.appendString((value as! URL).absoluteString)
            return true
        }
        return nil
    }

    func writeTree(_ tree: JSONValue, depth: Int) throws {
        scalarWillBeWritten(depth)
        try buffer.appendTree(
            tree, options: options.treeOptions(), depth: depth, path: codingPath(depth))
    }

    func encodeDate(_ date: Date, depth: Int) throws -> Bool {
        switch options.dateEncodingStrategy {
        case .deferredToDate:
            return false
        case .secondsSince1970:
            try writeDouble(date.timeIntervalSince1970, depth: depth)
        case .millisecondsSince1970:
            try writeDouble(date.timeIntervalSince1970 * 1000, depth: depth)
        case .iso8601:
            scalarWillBeWritten(depth)
            buffer.appendString(date.formatted(.iso8601))
        case .custom(let body):
            try encodeCustom(depth: depth, value: date) { try body(date, $0) }
        }
        return true
    }

    func encodeData(_ data: Data, depth: Int) throws -> Bool {
        switch options.dataEncodingStrategy {
        case .deferredToData:
            return false
        case .base64:
            scalarWillBeWritten(depth)
            buffer.appendString(data.base64EncodedString())
        case .custom(let body):
            try encodeCustom(depth: depth, value: data) { try body(data, $0) }
        }
        return true
    }

    // MARK: Frames

    func openFrame(isObject: Bool, depth: Int) {
        serial += 1
        frames.append(Frame(serial: serial, isObject: isObject, count: 0, pendingSuper: false))
        if filled.count > depth { filled[depth] = true }
        buffer.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        if depth == 0, isObject, let extraMembers, !extraMembers.isEmpty {
            for key in extraMembers.keys.sorted() {
                if frames[0].count > 0 { buffer.append(UInt8(ascii: ",")) }
                buffer.appendString(key)
                buffer.append(UInt8(ascii: ":"))
                do {
                    try buffer.appendTree(extraMembers[key]!, options: options.treeOptions(), depth: 1, path: [])
                } catch let error as EncodingError {
                    fail(error)
                } catch {}
                frames[0].count += 1
            }
        }
    }

    /// Closes the frames with an index above `index`, innermost first.
    @inline(__always)
    func closeFrames(above index: Int) {
        while frames.count > index + 1 {
            let top = frames.count - 1
            settleSuper(top)
            buffer.append(frames[top].isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
            frames.removeLast()
        }
    }

    /// A `superEncoder` that was never used still gives its key a value: `{}`.
    @inline(__always)
    func settleSuper(_ index: Int) {
        if frames[index].pendingSuper {
            frames[index].pendingSuper = false
            if frames.count == index + 1 && !filled[index + 1] {
                buffer.appendASCII("{}")
            }
        }
    }

    /// Makes the frame `index` (serial `serial`) the innermost one again, or reports that it was closed.
    @inline(__always)
    func reopen(_ index: Int, _ serial: Int) throws {
        guard index < frames.count, frames[index].serial == serial else {
            throw _Errors.encoding(
                (), "a container was used after its parent moved on; HemeraJSONEncoder writes in one pass",
                path: codingPath(min(index, frames.count)))
        }
        closeFrames(above: index)
        settleSuper(index)
    }

    /// Writes the separator and `key:` of the next member of the object frame `index`, and
    /// records `key` in the coding path when `recordingPath` (see ``path``).
    @inline(__always)
    func beginMember(_ index: Int, _ serial: Int, key: some CodingKey, recordingPath: Bool) throws {
        try reopen(index, serial)
        if frames[index].count > 0 { buffer.append(UInt8(ascii: ",")) }
        frames[index].count += 1
        if recordingPath { setPath(index, key) }
        if usesDefaultKeys && (index > 0 || extraMembers == nil) {
            buffer.appendKey(key.stringValue)
            return
        }
        writeConvertedKey(key, index)
    }

    /// The key of a member under a key strategy, or of the top-level object with extra members.
    @inline(never)
    private func writeConvertedKey(_ key: some CodingKey, _ index: Int) {
        let name: String
        switch options.keyEncodingStrategy {
        case .useDefaultKeys:
            name = key.stringValue
        case .convertToSnakeCase:
            name = _KeyConversion.toSnakeCase(key.stringValue)
        case .custom(let convert):
            setPath(index, key)
            name = convert(codingPath(index + 1)).stringValue
        }
        if index == 0, let extraMembers, extraMembers[name] != nil {
            fail(_Errors.encoding(name, "the key is both in the value and in the extra members", path: [key]))
        }
        buffer.appendKey(name)
    }

    /// Writes the separator before the next element of the array frame `index`.
    @inline(__always)
    func beginElement(_ index: Int, _ serial: Int) throws {
        try reopen(index, serial)
        if frames[index].count > 0 { buffer.append(UInt8(ascii: ",")) }
        frames[index].count += 1
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

    /// For a single-value write at `depth`: checks the slot is still empty and marks it filled.
    @inline(__always)
    func scalarWillBeWritten(_ depth: Int) {
        if filled.count > depth { filled[depth] = true }
    }

    // MARK: Scalars

    @inline(__always)
    func writeInteger<I: FixedWidthInteger>(_ value: I, depth: Int) throws {
        if I.bitWidth >= 64 && !I.isSigned && value > Int64.max {
            throw _Errors.encoding(
                value, "\(value) is above Int64.max, which jansson (and so this library) cannot parse",
                path: codingPath(depth))
        }
        buffer.appendInteger(value)
    }

    @inline(__always)
    func writeDouble(_ value: Double, depth: Int) throws {
        if value.isFinite {
            buffer.appendDouble(value)
        } else {
            try writeNonConforming(value, isNaN: value.isNaN, positive: value > 0, depth: depth)
        }
    }

    /// A keyed member's double: the key enters the coding path only if the value is rejected.
    @inline(__always)
    func writeDouble(_ value: Double, depth: Int, key: some CodingKey) throws {
        if value.isFinite {
            buffer.appendDouble(value)
        } else {
            setPath(depth - 1, key)
            try writeNonConforming(value, isNaN: value.isNaN, positive: value > 0, depth: depth)
        }
    }

    /// A keyed member's float: the key enters the coding path only if the value is rejected.
    @inline(__always)
    func writeFloat(_ value: Float, depth: Int, key: some CodingKey) throws {
        if value.isFinite {
            buffer.appendFloat(value)
        } else {
            setPath(depth - 1, key)
            try writeNonConforming(value, isNaN: value.isNaN, positive: value > 0, depth: depth)
        }
    }

    /// A keyed member's unsigned integer: the key enters the coding path only if the value is rejected.
    @inline(__always)
    func writeInteger<I: FixedWidthInteger>(_ value: I, depth: Int, key: some CodingKey) throws {
        if I.bitWidth >= 64 && !I.isSigned && value > Int64.max { setPath(depth - 1, key) }
        try writeInteger(value, depth: depth)
    }

    @inline(__always)
    func writeFloat(_ value: Float, depth: Int) throws {
        if value.isFinite {
            buffer.appendFloat(value)
        } else {
            try writeNonConforming(value, isNaN: value.isNaN, positive: value > 0, depth: depth)
        }
    }

    func writeNonConforming(_ value: Any, isNaN: Bool, positive: Bool, depth: Int) throws {
        guard case .convertToString(let positiveText, let negativeText, let nanText) =
            options.nonConformingFloatEncodingStrategy
        else {
            throw _Errors.encoding(
                value, "cannot encode \(value) in JSON; set nonConformingFloatEncodingStrategy to .convertToString",
                path: codingPath(depth))
        }
        buffer.appendString(isNaN ? nanText : positive ? positiveText : negativeText)
    }

    func checkDepth(_ depth: Int) throws {
        if depth >= maxDepth {
            throw _Errors.encoding((), "nesting deeper than \(maxDepth) levels", path: codingPath(depth))
        }
    }
}

// MARK: - Encoder

struct _Encoder: Encoder {
    let state: _EncoderState
    /// The depth of this encoder's value slot: the number of containers around it.
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath(depth) }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(_KeyedEncoder<Key>(state: state, index: depth, serial: open(isObject: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        _UnkeyedEncoder(state: state, index: depth, serial: open(isObject: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        _SingleValueEncoder(state: state, depth: depth)
    }

    /// Opens this slot's container, or returns the one already open (a subclass and its
    /// superclass share one keyed container).
    private func open(isObject: Bool) -> Int {
        if state.filled.count <= depth { state.beginSlot(depth) }
        if state.frames.count > depth && state.filled[depth] {
            let frame = state.frames[depth]
            if frame.isObject == isObject && isObject {
                return frame.serial
            }
        }
        if state.frames.count != depth || state.filled[depth] {
            state.fail(
                _Errors.encoding((), "this value was already encoded; a second container cannot be requested",
                    path: codingPath))
            return -1
        }
        if depth >= state.maxDepth {
            state.fail(_Errors.encoding((), "nesting deeper than \(state.maxDepth) levels", path: codingPath))
            return -1
        }
        state.openFrame(isObject: isObject, depth: depth)
        return state.serial
    }
}

// MARK: - Keyed container

struct _KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: _EncoderState
    let index: Int
    let serial: Int

    var codingPath: [any CodingKey] { state.codingPath(index) }

    /// Begins a string, number, Boolean or null member: its key is not recorded in the coding
    /// path (nothing below it can read the path; see ``_EncoderState/path``).
    @inline(__always)
    private func member(_ key: Key) throws {
        try state.beginMember(index, serial, key: key, recordingPath: false)
    }

    /// Begins a member whose encoding can read the coding path.
    @inline(__always)
    private func memberWithPath(_ key: Key) throws {
        try state.beginMember(index, serial, key: key, recordingPath: true)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try member(key)
        state.buffer.appendASCII("null")
    }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try member(key)
        if value { state.buffer.appendASCII("true") } else { state.buffer.appendASCII("false") }
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        try member(key)
        state.buffer.appendString(value)
    }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        try member(key)
        try state.writeDouble(value, depth: index + 1, key: key)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        try member(key)
        try state.writeFloat(value, depth: index + 1, key: key)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int8, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int16, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int32, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt, forKey key: Key) throws {
        try member(key)
        try state.writeInteger(value, depth: index + 1, key: key)
    }
    mutating func encode(_ value: UInt8, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt16, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt32, forKey key: Key) throws {
        try member(key)
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        try member(key)
        try state.writeInteger(value, depth: index + 1, key: key)
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if T.self == String.self || T.self == Int.self || T.self == Bool.self {
            // `[String: String]`'s and `[String: Int]`'s values, among others: nothing to record.
            try member(key)
            try state.encodeValue(value, depth: index + 1)
            return
        }
        try memberWithPath(key)
        try state.encodeValue(value, depth: index + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let serial = nested(key, isObject: true)
        return KeyedEncodingContainer(_KeyedEncoder<NestedKey>(state: state, index: index + 1, serial: serial))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        _UnkeyedEncoder(state: state, index: index + 1, serial: nested(key, isObject: false))
    }

    private func nested(_ key: Key, isObject: Bool) -> Int {
        do {
            try memberWithPath(key)
            try state.checkDepth(index + 1)
        } catch let error as EncodingError {
            state.fail(error)
            return -1
        } catch {
            return -1
        }
        state.beginSlot(index + 1)
        state.openFrame(isObject: isObject, depth: index + 1)
        return state.serial
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: _JSONKey.super) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    private func superEncoder(key: some CodingKey) -> any Encoder {
        do {
            try state.beginMember(index, serial, key: key, recordingPath: true)
        } catch let error as EncodingError {
            state.fail(error)
        } catch {}
        state.beginSlot(index + 1)
        if index < state.frames.count { state.frames[index].pendingSuper = true }
        return _Encoder(state: state, depth: index + 1)
    }
}

// MARK: - Unkeyed container

struct _UnkeyedEncoder: UnkeyedEncodingContainer {
    let state: _EncoderState
    let index: Int
    let serial: Int

    var codingPath: [any CodingKey] { state.codingPath(index) }
    var count: Int {
        index < state.frames.count && state.frames[index].serial == serial ? state.frames[index].count : 0
    }

    @inline(__always)
    private func element() throws {
        try state.beginElement(index, serial)
    }

    mutating func encodeNil() throws {
        try element()
        state.buffer.appendASCII("null")
    }
    mutating func encode(_ value: Bool) throws {
        try element()
        if value { state.buffer.appendASCII("true") } else { state.buffer.appendASCII("false") }
    }
    mutating func encode(_ value: String) throws {
        try element()
        state.buffer.appendString(value)
    }
    mutating func encode(_ value: Double) throws {
        try element()
        try state.writeDouble(value, depth: index + 1)
    }
    mutating func encode(_ value: Float) throws {
        try element()
        try state.writeFloat(value, depth: index + 1)
    }
    mutating func encode(_ value: Int) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int8) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int16) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int32) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int64) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt) throws {
        try element()
        try state.writeInteger(value, depth: index + 1)
    }
    mutating func encode(_ value: UInt8) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt16) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt32) throws {
        try element()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt64) throws {
        try element()
        try state.writeInteger(value, depth: index + 1)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try element()
        try state.encodeValue(value, depth: index + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(_KeyedEncoder<NestedKey>(state: state, index: index + 1, serial: nested(isObject: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        _UnkeyedEncoder(state: state, index: index + 1, serial: nested(isObject: false))
    }

    private func nested(isObject: Bool) -> Int {
        do {
            try element()
            try state.checkDepth(index + 1)
        } catch let error as EncodingError {
            state.fail(error)
            return -1
        } catch {
            return -1
        }
        state.beginSlot(index + 1)
        state.openFrame(isObject: isObject, depth: index + 1)
        return state.serial
    }

    mutating func superEncoder() -> any Encoder {
        do {
            try element()
        } catch let error as EncodingError {
            state.fail(error)
        } catch {}
        state.beginSlot(index + 1)
        if index < state.frames.count { state.frames[index].pendingSuper = true }
        return _Encoder(state: state, depth: index + 1)
    }
}

// MARK: - Single value container

struct _SingleValueEncoder: SingleValueEncodingContainer {
    let state: _EncoderState
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath(depth) }

    @inline(__always)
    private func slot() throws {
        guard state.frames.count == depth, depth < state.filled.count, !state.filled[depth] else {
            throw _Errors.encoding((), "a single value was already encoded here", path: codingPath)
        }
        state.filled[depth] = true
    }

    mutating func encodeNil() throws {
        try slot()
        state.buffer.appendASCII("null")
    }
    mutating func encode(_ value: Bool) throws {
        try slot()
        if value { state.buffer.appendASCII("true") } else { state.buffer.appendASCII("false") }
    }
    mutating func encode(_ value: String) throws {
        try slot()
        state.buffer.appendString(value)
    }
    mutating func encode(_ value: Double) throws {
        try slot()
        try state.writeDouble(value, depth: depth)
    }
    mutating func encode(_ value: Float) throws {
        try slot()
        try state.writeFloat(value, depth: depth)
    }
    mutating func encode(_ value: Int) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int8) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int16) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int32) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: Int64) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt) throws {
        try slot()
        try state.writeInteger(value, depth: depth)
    }
    mutating func encode(_ value: UInt8) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt16) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt32) throws {
        try slot()
        state.buffer.appendInteger(value)
    }
    mutating func encode(_ value: UInt64) throws {
        try slot()
        try state.writeInteger(value, depth: depth)
    }
    mutating func encode<T: Encodable>(_ value: T) throws {
        guard state.frames.count == depth, depth < state.filled.count, !state.filled[depth] else {
            throw _Errors.encoding((), "a single value was already encoded here", path: codingPath)
        }
        try state.encodeValue(value, depth: depth)
    }
}
