// The tape: a parsed document as a flat array of 16-byte entries in document order, what
// `HemeraJSONDecoder` reads. No tree, no per-node allocation: strings and numbers stay in the input
// bytes (the tape records where), containers record their member count and how many entries they
// span, so a reader moves to the next sibling in one step. The tape's memory is kept by the
// decoder's per-thread state and reused, so a decode of a small document allocates only what it
// returns.

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The kinds of JSON values on a tape.
enum _Kind: UInt8 {
    case null = 0, `false`, `true`, integer, real, string, array, object
}

/// One value on a tape.
///
/// `tag`: kind (bits 0–3), flags (4–7), the byte offset of the value's text (8–35) and its length
/// (36–63); for a string, of its body between the quotes. `payload`: an integer's value, a
/// double's bits, or, for a container, its member count (low 32 bits) and the number of entries
/// it spans, itself included (high 32 bits).
struct _Entry {
    var tag: UInt64
    var payload: UInt64

    static let escaped: UInt64 = 0x10
    /// Built from a value, not parsed: a number has no text.
    static let synthetic: UInt64 = 0x20
    /// Offsets and lengths are 28 bits: documents up to 256 MiB.
    static let maxOffset = (1 << 28) - 1

    @inline(__always)
    init(kind: _Kind, flags: UInt64 = 0, start: Int, length: Int, payload: UInt64) {
        tag =
            UInt64(kind.rawValue) | flags | UInt64(truncatingIfNeeded: start) << 8
            | UInt64(truncatingIfNeeded: length) << 36
        self.payload = payload
    }
}

/// The reusable tape of one decode.
final class _Tape {
    // Exclusivity: a tape is used by one decode at a time (see `_DecoderState`), and no access to
    // these fields spans a call that could reach them again: the dynamic checks are skipped.
    @exclusivity(unchecked) private(set) var entries: UnsafeMutablePointer<_Entry>
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private(set) var count = 0
    /// The bytes the entries point into: the input while it is being decoded, or `storage`.
    @exclusivity(unchecked) private(set) var base = UnsafeRawPointer(bitPattern: 0x10)!
    /// For tapes built from a `JSONValue`: the strings' bytes.
    @exclusivity(unchecked) private var storage: UnsafeMutableRawPointer?
    @exclusivity(unchecked) private var storageCapacity = 0
    @exclusivity(unchecked) private var storageCount = 0
    /// The containers open while parsing (entry indices).
    @exclusivity(unchecked) private var open: [Int] = []

    /// The most entries kept between decodes (1 MiB of tape, documents of a few hundred KiB); a
    /// larger tape is given back, so a thread that once read a large document does not keep it.
    static let maxKeptEntries = 1 << 16

    init() {
        capacity = 256
        entries = .allocate(capacity: capacity)
    }

    deinit {
        entries.deallocate()
        storage?.deallocate()
    }

    var root: _Node { _Node(entry: entries, base: base) }

    /// Gives back memory a large document needed, so an idle thread does not keep it.
    func trim() {
        if capacity > Self.maxKeptEntries {
            entries.deallocate()
            capacity = 256
            entries = .allocate(capacity: capacity)
        }
        if storageCapacity > 1 << 20 {
            storage?.deallocate()
            storage = nil
            storageCapacity = 0
        }
        if open.capacity > 4096 { open = [] }
    }

    @inline(never)
    private func grow(_ minimum: Int) {
        let newCapacity = max(capacity * 2, minimum)
        let new = UnsafeMutablePointer<_Entry>.allocate(capacity: newCapacity)
        new.moveInitialize(from: entries, count: count)
        entries.deallocate()
        entries = new
        capacity = newCapacity
    }

    @inline(__always)
    private func append(_ entry: _Entry) {
        if count == capacity { grow(count + 1) }
        entries[count] = entry
        count += 1
    }

    // MARK: Parsing

    /// What stopped a parse: the input's syntax, or a limit (nesting, size).
    enum Failure: Error {
        case syntax(EnvelopeParser.Failure)
        case limit(String)
    }

    /// Parses a whole document onto the tape, which then points into `buffer` (valid while it is).
    ///
    /// Iterative (an explicit stack of open containers): input nesting costs no machine stack.
    /// Containers nested deeper than `maxDepth` throw; duplicate keys throw when
    /// `rejectsDuplicates`.
    func parse(_ buffer: UnsafeRawBufferPointer, maxDepth: Int, rejectsDuplicates: Bool) throws(Failure) {
        count = 0
        open.removeAll(keepingCapacity: true)
        guard buffer.count <= _Entry.maxOffset else {
            throw .limit("the input has \(buffer.count) bytes, more than the parser's limit of \(_Entry.maxOffset)")
        }
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        base = UnsafeRawPointer(bytes.baseAddress) ?? UnsafeRawPointer(bitPattern: 0x10)!
        // About one entry per 6 bytes of typical JSON: most documents need no growth. Larger
        // ones grow by doubling rather than reserving for the worst case up front.
        let estimate = min(buffer.count / 6 + 16, Self.maxKeptEntries)
        if capacity < estimate { grow(estimate) }
        var scanner = _JSONScanner(bytes: bytes)
        do {
            try run(&scanner, maxDepth: maxDepth, rejectsDuplicates: rejectsDuplicates)
        } catch let failure as EnvelopeParser.Failure {
            throw .syntax(failure)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .limit("\(error)")
        }
    }

    private func run(_ scanner: inout _JSONScanner, maxDepth: Int, rejectsDuplicates: Bool) throws {
        let bytes = scanner.bytes
        let end = bytes.count
        scanner.skipSpace()
        value: while true {
            guard scanner.index < end else { throw scanner.fail("unexpected end of input") }
            let start = scanner.index
            switch bytes[start] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < maxDepth else { throw Failure.limit("nesting deeper than \(maxDepth) levels") }
                let isObject = bytes[start] == UInt8(ascii: "{")
                open.append(count)
                append(_Entry(kind: isObject ? .object : .array, start: start, length: 0, payload: 0))
                scanner.index += 1
                scanner.skipSpace()
                guard scanner.index < end else {
                    throw scanner.fail(isObject ? "unterminated object" : "unterminated array")
                }
                if bytes[scanner.index] != (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    entries[count - 1].payload = 1
                    if isObject { try key(&scanner) }
                    continue value
                }
            // An empty container is closed below.
            case UInt8(ascii: "\""):
                let escaped = try scanner.scanString()
                append(
                    _Entry(
                        kind: .string,
                        flags: escaped ? _Entry.escaped : 0,
                        start: start + 1,
                        length: scanner.index - start - 2,
                        payload: 0
                    )
                )
            case UInt8(ascii: "t"):
                try scanner.literal("true")
                append(_Entry(kind: .true, start: start, length: 4, payload: 0))
            case UInt8(ascii: "f"):
                try scanner.literal("false")
                append(_Entry(kind: .false, start: start, length: 5, payload: 0))
            case UInt8(ascii: "n"):
                try scanner.literal("null")
                append(_Entry(kind: .null, start: start, length: 4, payload: 0))
            default:
                switch try scanner.number() {
                case .integer(let value):
                    append(
                        _Entry(
                            kind: .integer,
                            start: start,
                            length: scanner.index - start,
                            payload: UInt64(bitPattern: value)
                        )
                    )
                case .double(let value):
                    append(
                        _Entry(kind: .real, start: start, length: scanner.index - start, payload: value.bitPattern)
                    )
                }
            }
            // After a value: close containers, or move to the next member.
            while true {
                scanner.skipSpace()
                guard let container = open.last else {
                    guard scanner.index == end else { throw scanner.trailingData() }
                    return
                }
                let isObject = entries[container].tag & 0xF == UInt64(_Kind.object.rawValue)
                guard scanner.index < end else {
                    throw scanner.fail(isObject ? "unterminated object" : "unterminated array")
                }
                let byte = bytes[scanner.index]
                if byte == UInt8(ascii: ",") {
                    scanner.index += 1
                    scanner.skipSpace()
                    entries[container].payload += 1
                    if isObject { try key(&scanner) }
                    continue value
                }
                guard byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    throw scanner.fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                scanner.index += 1
                open.removeLast()
                let start = Int(truncatingIfNeeded: entries[container].tag >> 8 & UInt64(_Entry.maxOffset))
                entries[container].tag |= UInt64(scanner.index - start) << 36
                entries[container].payload |= UInt64(count - container) << 32
                if isObject && rejectsDuplicates && entries[container].payload & 0xFFFF_FFFF > 1 {
                    try checkDuplicates(_Node(entry: entries + container, base: base), &scanner)
                }
            }
        }
    }

    /// Reads a member's key and its colon; the cursor is then at the value.
    @inline(__always)
    private func key(_ scanner: inout _JSONScanner) throws {
        scanner.skipSpace()
        let start = scanner.index
        guard start < scanner.bytes.count, scanner.bytes[start] == UInt8(ascii: "\"") else {
            throw scanner.fail("expected a key")
        }
        let escaped = try scanner.scanString()
        append(
            _Entry(
                kind: .string,
                flags: escaped ? _Entry.escaped : 0,
                start: start + 1,
                length: scanner.index - start - 2,
                payload: 0
            )
        )
        scanner.skipSpace()
        guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == UInt8(ascii: ":") else {
            throw scanner.fail("expected ':'")
        }
        scanner.index += 1
        scanner.skipSpace()
    }

    /// Throws `duplicate object key` if two keys of `object` are the same text (compared as the
    /// bytes they stand for, escapes decoded, as RFC 8259 compares names).
    private func checkDuplicates(_ object: _Node, _ scanner: inout _JSONScanner) throws {
        func duplicate(_ key: _Node) -> EnvelopeParser.Failure {
            EnvelopeParser.Failure(
                reason: "duplicate object key \(_quoted(key.string))",
                offset: Int(truncatingIfNeeded: key.entry.pointee.tag >> 8 & UInt64(_Entry.maxOffset)) - 1
            )
        }
        let count = object.count
        if count <= 16 {
            // Small objects (every request envelope and most payloads): the keys in a buffer on
            // the stack, compared pairwise; an array here was one allocation per object decoded.
            try withUnsafeTemporaryAllocation(of: _Node.self, capacity: count) { keys in
                var index = 0
                object.forEachMember { key, _ in
                    // Safe: `forEachMember` visits exactly `object.count` members, the capacity.
                    keys.initializeElement(at: index, to: key)
                    index += 1
                }
                for later in 1..<max(index, 1) {
                    for earlier in 0..<later where keys[earlier].sameKey(keys[later]) { throw duplicate(keys[later]) }
                }
                // `_Node` is two pointers (trivial): nothing to deinitialize.
            }
            return
        }
        var keys: [_Node] = []
        keys.reserveCapacity(count)
        object.forEachMember { key, _ in keys.append(key) }
        var hashed: [(hash: UInt64, index: Int)] = []
        hashed.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() { hashed.append((key.keyHash, index)) }
        hashed.sort { $0.hash < $1.hash || ($0.hash == $1.hash && $0.index < $1.index) }
        for position in 1..<hashed.count where hashed[position].hash == hashed[position - 1].hash {
            var earlier = position - 1
            while earlier >= 0, hashed[earlier].hash == hashed[position].hash {
                if keys[hashed[earlier].index].sameKey(keys[hashed[position].index]) {
                    throw duplicate(keys[max(hashed[earlier].index, hashed[position].index)])
                }
                earlier -= 1
            }
        }
    }

    // MARK: Building from a JSONValue

    /// Puts `value` on the tape (for `HemeraJSONDecoder.decode(_:from: JSONValue)`): strings are
    /// copied into the tape's own storage, numbers kept as they are (no text).
    func build(from value: JSONValue, maxDepth: Int) throws(Failure) {
        count = 0
        storageCount = 0
        try add(value, depth: 0, maxDepth: maxDepth)
        base = UnsafeRawPointer(storage) ?? UnsafeRawPointer(bitPattern: 0x10)!
    }

    private func store(_ text: String) throws(Failure) -> (start: Int, length: Int) {
        var text = text
        let length = text.utf8.count
        let needed = storageCount + length
        guard needed <= _Entry.maxOffset else { throw .limit("the value's strings exceed 256 MiB") }
        if needed > storageCapacity {
            let newCapacity = max(storageCapacity * 2, needed, 1024)
            let new = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
            if let storage {
                new.copyMemory(from: storage, byteCount: storageCount)
                storage.deallocate()
            }
            storage = new
            storageCapacity = newCapacity
        }
        let start = storageCount
        let destination = storage! + start
        text.withUTF8 { utf8 in
            if let source = utf8.baseAddress { destination.copyMemory(from: source, byteCount: utf8.count) }
        }
        storageCount = needed
        return (start, length)
    }

    private func add(_ value: JSONValue, depth: Int, maxDepth: Int) throws(Failure) {
        let synthetic = _Entry.synthetic
        switch value {
        case .null: append(_Entry(kind: .null, flags: synthetic, start: 0, length: 0, payload: 0))
        case .bool(let flag):
            append(_Entry(kind: flag ? .true : .false, flags: synthetic, start: 0, length: 0, payload: 0))
        case .integer(let number):
            append(_Entry(kind: .integer, flags: synthetic, start: 0, length: 0, payload: UInt64(bitPattern: number)))
        case .double(let number):
            append(_Entry(kind: .real, flags: synthetic, start: 0, length: 0, payload: number.bitPattern))
        case .string(let text):
            let (start, length) = try store(text)
            append(_Entry(kind: .string, flags: synthetic, start: start, length: length, payload: 0))
        case .array(let elements):
            guard depth < maxDepth else { throw .limit("nesting deeper than \(maxDepth) levels") }
            let container = count
            append(_Entry(kind: .array, flags: synthetic, start: 0, length: 0, payload: UInt64(elements.count)))
            for element in elements { try add(element, depth: depth + 1, maxDepth: maxDepth) }
            entries[container].payload |= UInt64(count - container) << 32
        case .object(let members):
            guard depth < maxDepth else { throw .limit("nesting deeper than \(maxDepth) levels") }
            let container = count
            append(_Entry(kind: .object, flags: synthetic, start: 0, length: 0, payload: UInt64(members.count)))
            for (key, member) in members {
                let (start, length) = try store(key)
                append(_Entry(kind: .string, flags: synthetic, start: start, length: length, payload: 0))
                try add(member, depth: depth + 1, maxDepth: maxDepth)
            }
            entries[container].payload |= UInt64(count - container) << 32
        }
    }
}

// MARK: - Reading a tape

/// A value on a tape: valid while the tape is unchanged and its bytes (the input) are alive.
struct _Node {
    let entry: UnsafePointer<_Entry>
    let base: UnsafeRawPointer

    @inline(__always) init(entry: UnsafePointer<_Entry>, base: UnsafeRawPointer) {
        self.entry = entry
        self.base = base
    }

    @inline(__always) init(entry: UnsafeMutablePointer<_Entry>, base: UnsafeRawPointer) {
        self.entry = UnsafePointer(entry)
        self.base = base
    }

    @inline(__always) var tag: UInt64 { entry.pointee.tag }

    @inline(__always) var kind: _Kind { _Kind(rawValue: UInt8(truncatingIfNeeded: tag & 0xF)).unsafelyUnwrapped }

    @inline(__always) var isNull: Bool { tag & 0xF == 0 }

    @inline(__always) var isEscaped: Bool { tag & _Entry.escaped != 0 }

    @inline(__always) var isSynthetic: Bool { tag & _Entry.synthetic != 0 }

    /// The value's text (a string's body between its quotes), in the tape's bytes.
    @inline(__always) var text: UnsafeRawBufferPointer {
        let start = Int(truncatingIfNeeded: tag >> 8 & UInt64(_Entry.maxOffset))
        return UnsafeRawBufferPointer(start: base + start, count: Int(truncatingIfNeeded: tag >> 36))
    }

    /// The string.
    @inline(__always) var string: String { isEscaped ? _unescape(text) : _string(text) }

    @inline(__always) var integer: Int64 { Int64(bitPattern: entry.pointee.payload) }

    /// The number as a double (an integer converted, rounded to nearest).
    @inline(__always) var real: Double {
        kind == .integer ? Double(integer) : Double(bitPattern: entry.pointee.payload)
    }

    /// A container's member or element count.
    @inline(__always) var count: Int { Int(truncatingIfNeeded: entry.pointee.payload & 0xFFFF_FFFF) }

    /// The first element of an array, or the first key of an object (valid when `count > 0`).
    @inline(__always) var firstChild: _Node { _Node(entry: entry + 1, base: base) }

    /// The value after this one (and everything inside it) on the tape.
    @inline(__always) var next: _Node {
        let kind = tag & 0xF
        let span = kind >= UInt64(_Kind.array.rawValue) ? Int(truncatingIfNeeded: entry.pointee.payload >> 32) : 1
        return _Node(entry: entry + span, base: base)
    }

    /// Whether this key is `name`.
    @inline(__always) func keyEquals(_ name: UnsafeRawBufferPointer) -> Bool {
        if isEscaped { return Array(string.utf8).elementsEqual(name) }
        let text = self.text
        return text.count == name.count
            && (text.count == 0 || memcmp(text.baseAddress!, name.baseAddress!, text.count) == 0)
    }

    /// Whether two keys stand for the same bytes.
    func sameKey(_ other: _Node) -> Bool {
        if !isEscaped && !other.isEscaped {
            let (a, b) = (text, other.text)
            return a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
        }
        return Array(string.utf8) == Array(other.string.utf8)
    }

    /// FNV-1a of the key's bytes (escapes decoded).
    var keyHash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ bytes: some Sequence<UInt8>) {
            for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        if isEscaped { add(string.utf8) } else { add(text) }
        return hash
    }

    /// Calls `body` with each member's key and value, in document order.
    @inline(__always)
    func forEachMember(_ body: (_Node, _Node) throws -> Void) rethrows {
        var key = firstChild
        for _ in 0..<count {
            let value = _Node(entry: key.entry + 1, base: base)
            try body(key, value)
            key = value.next
        }
    }

    /// The value of the member `name`: the last one, when keys repeat.
    func member(_ name: String) -> _Node? {
        var name = name
        return name.withUTF8 { utf8 in
            let name = UnsafeRawBufferPointer(utf8)
            var found: _Node? = nil
            forEachMember { key, value in if key.keyEquals(name) { found = value } }
            return found
        }
    }

    /// How error messages show this value: `the string "Hello"`, `the number 1.5`, `null`, `an object`.
    var described: String {
        switch kind {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "the string \(_quoted(string))"
        case .integer: return "the number \(integer)"
        case .real: return "the number \(real)"
        case .true: return "true"
        case .false: return "false"
        case .null: return "null"
        }
    }

    /// The number's exact value as an integer (see `_exactInteger`).
    var exactInteger: _ExactInteger {
        switch kind {
        case .integer:
            let value = integer
            return .value(negative: value < 0, magnitude: value.magnitude)
        case .real where !isSynthetic:
            return _exactInteger(text)
        default:
            // A double built by hand (no text): exact up to 2^53; beyond, one double stands for
            // many integers (`-9223372036854775809` parses as the double of `Int64.min`), so it
            // is no integer's exact value.
            let value = real
            guard value.isFinite, value == value.rounded(.towardZero) else { return .fraction }
            guard value.magnitude <= 0x1p53 else { return .tooLarge }
            return .value(negative: value.sign == .minus, magnitude: UInt64(value.magnitude))
        }
    }
}

extension JSONValue {
    /// Converts a value on a tape. Its nesting was bounded when the tape was made.
    init(node: _Node) {
        switch node.kind {
        case .null: self = .null
        case .true: self = .bool(true)
        case .false: self = .bool(false)
        case .integer: self = .integer(node.integer)
        case .real: self = .double(node.real)
        case .string: self = .string(node.string)
        case .array:
            var elements: [JSONValue] = []
            elements.reserveCapacity(node.count)
            var element = node.firstChild
            for _ in 0..<node.count {
                elements.append(JSONValue(node: element))
                element = element.next
            }
            self = .array(elements)
        case .object:
            var members: [String: JSONValue] = Dictionary(minimumCapacity: node.count)
            node.forEachMember { key, value in members[key.string] = JSONValue(node: value) }
            self = .object(members)
        }
    }
}

/// A `null` outside any tape: what `superDecoder(forKey:)` reads for a missing key.
/// `nonisolated(unsafe)`: written once by the initializer (run once, by the runtime's lazy global
/// initialization) and only read afterwards.
nonisolated(unsafe) private let _nullEntry: UnsafeMutablePointer<_Entry> = {
    let entry = UnsafeMutablePointer<_Entry>.allocate(capacity: 1)
    entry.initialize(to: _Entry(kind: .null, flags: _Entry.synthetic, start: 0, length: 0, payload: 0))
    return entry
}()

var _nullNode: _Node { _Node(entry: _nullEntry, base: UnsafeRawPointer(_nullEntry)) }
