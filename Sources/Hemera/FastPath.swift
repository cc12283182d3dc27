import HemeraJSON
internal import HemeraLocks

/// The top-level primitive members of compact JSON object bytes, for Hemera's `method` string,
/// without building a tree. Returns `nil` when the bytes need the general path (escapes in keys
/// or strings, not an object).
func scanTopLevelPrimitives(_ bytes: [UInt8]) -> [(key: String, value: String)]? {
    var index = 0
    let count = bytes.count
    @inline(__always) func skipSpace() {
        while index < count,
            bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09
        {
            index += 1
        }
    }
    /// Reads a string starting at a quote; nil if it holds escapes.
    func readString() -> String? {
        guard index < count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        while index < count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") { return nil }
            index += 1
        }
        guard index < count else { return nil }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        index += 1
        return text
    }
    /// Skips a nested object or array.
    func skipNested() -> Bool {
        var depth = 0
        var inString = false
        while index < count {
            let byte = bytes[index]
            index += 1
            if inString {
                if byte == UInt8(ascii: "\\") { index += 1 } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return true }
            default: break
            }
        }
        return false
    }

    skipSpace()
    guard index < count, bytes[index] == UInt8(ascii: "{") else { return nil }
    index += 1
    var result: [(key: String, value: String)] = []
    skipSpace()
    if index < count, bytes[index] == UInt8(ascii: "}") { return result }
    while index < count {
        skipSpace()
        guard let key = readString() else { return nil }
        skipSpace()
        guard index < count, bytes[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        skipSpace()
        guard index < count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            guard let text = readString() else { return nil }
            result.append((key, text))
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard skipNested() else { return nil }
        case UInt8(ascii: "t"):
            index += 4
            result.append((key, "true"))
        case UInt8(ascii: "f"):
            index += 5
            result.append((key, "false"))
        case UInt8(ascii: "n"):
            index += 4
        default:
            let start = index
            var isInteger = true
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == 0x20 || byte == 0x0A { break }
                if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                    isInteger = false
                }
                index += 1
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if isInteger, let integer = Int64(text), integer.magnitude < (1 << 53) {
                result.append((key, text))
            } else if let number = Double(text) {
                result.append((key, formatJavaScriptNumber(number)))
            } else {
                return nil
            }
        }
        skipSpace()
        guard index < count else { return nil }
        if bytes[index] == UInt8(ascii: ",") {
            index += 1
            continue
        }
        if bytes[index] == UInt8(ascii: "}") { return result }
        return nil
    }
    return nil
}

/// The typed pattern `P` written straight into bytes: its fixed keys, then its encoded payload's
/// members, with the `method` string computed on the way. `nil` when the general path is needed.
struct EncodedTypedPattern {
    var bytes: [UInt8]
    var method: String
    var topic: String

    init?<P: HemeraPattern>(_ pattern: P) {
        self.init(pattern, fixed: Self.fixedPart(of: P.self))
    }

    /// ``init(_:)`` with the fixed part of `P` already at hand.
    init?<P: HemeraPattern>(_ pattern: P, fixed: FixedPart) {
        if let flat = Self.flat(pattern, fixed: fixed) {
            self = flat
            return
        }
        self.init(encoding: pattern)
    }

    /// The general path alone: `pattern` through ``HemeraJSONEncoder``, its top-level members
    /// scanned for the `method` string.
    init?<P: HemeraPattern>(encoding pattern: P) {
        guard let payload = try? HemeraJSONEncoder().encode(pattern),
            var members = scanTopLevelPrimitives(payload)
        else { return nil }
        let fixed = P.fixedKeys
        for (key, value) in fixed {
            switch value {
            case .string(let text): members.append((key, text))
            case .integer(let number): members.append((key, String(number)))
            case .double(let number): members.append((key, formatJavaScriptNumber(number)))
            case .bool(let flag): members.append((key, flag ? "true" : "false"))
            default: break
            }
        }
        members.sort { $0.key < $1.key }
        var method = ""
        method.reserveCapacity(64)
        var previous: String?
        for member in members {
            if member.key == previous { return nil }  // a payload member named like a routing key
            previous = member.key
            if !method.isEmpty { method += "," }
            method += member.key
            method += ":"
            method += member.value
        }
        // Splice: {<fixed keys>,<payload members>}
        var writer = JSONWriter(capacity: payload.count + 64)
        writer.raw("{")
        var first = true
        for (key, value) in fixed {
            if !first { writer.raw(",") }
            first = false
            writer.key(key)
            writer.value(value)
        }
        guard let open = payload.firstIndex(of: UInt8(ascii: "{")), let close = payload.lastIndex(of: UInt8(ascii: "}"))
        else {
            return nil
        }
        let inner = payload[(open + 1)..<close]
        if inner.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) {
            writer.raw(",")
            writer.raw(inner)
        }
        writer.raw("}")
        bytes = writer.bytes
        self.method = method
        topic = P.topic
    }

    init(bytes: [UInt8], method: String, topic: String) {
        self.bytes = bytes
        self.method = method
        self.topic = topic
    }

    /// What a typed pattern type always sends: its fixed keys written as JSON members, and their
    /// `method` parts. Computed once per type (``fixedPart(of:)``).
    struct FixedPart: Sendable {
        /// `"topic":"…","cmd":"…"` (no braces).
        var members: [UInt8]
        var parts: [(key: String, value: String)]
        var isIdempotent: Bool
    }

    private static let fixedParts = PthreadLock<[ObjectIdentifier: FixedPart]>([:])

    /// The fixed part of `P`, from the cache (type identity, one lock) after the first call.
    static func fixedPart<P: HemeraPattern>(of _: P.Type) -> FixedPart {
        let id = ObjectIdentifier(P.self)
        if let cached = fixedParts.withLock({ $0[id] }) { return cached }
        var writer = JSONWriter(capacity: 64)
        var parts: [(key: String, value: String)] = []
        var first = true
        for (key, value) in P.fixedKeys {
            if !first { writer.raw(",") }
            first = false
            writer.key(key)
            writer.value(value)
            switch value {
            case .string(let text): parts.append((key, text))
            case .integer(let number): parts.append((key, String(number)))
            case .double(let number): parts.append((key, formatJavaScriptNumber(number)))
            case .bool(let flag): parts.append((key, flag ? "true" : "false"))
            default: break
            }
        }
        let part = FixedPart(
            members: writer.bytes,
            parts: parts,
            isIdempotent: P.self is any HemeraIdempotentPattern.Type
        )
        fixedParts.withLock { $0[id] = part }
        return part
    }

    /// The flat-struct path: no JSON layer at all.
    static func flat<P: HemeraPattern>(_ pattern: P, fixed: FixedPart) -> EncodedTypedPattern? {
        let encoder = FlatPatternEncoder.reusable(capacity: 128)
        defer { encoder.finish() }
        guard let method = writeFlat(pattern, fixed: fixed, into: encoder) else { return nil }
        return EncodedTypedPattern(bytes: encoder.writer.bytes, method: method, topic: P.topic)
    }

    /// Writes `pattern` as a JSON object after whatever `encoder` holds already, and returns its
    /// `method` string; `nil` when the flat path cannot encode it (the encoder is then unusable).
    private static func writeFlat<P: HemeraPattern>(
        _ pattern: P,
        fixed: FixedPart,
        into encoder: FlatPatternEncoder
    ) -> String? {
        guard writePattern(pattern, fixed: fixed, into: encoder) else { return nil }
        return methodString(encoder.parts)
    }

    /// Writes `pattern` as a JSON object after whatever `encoder` holds already, and leaves its
    /// `method` parts sorted in `encoder.parts`; `false` when the flat path cannot encode it (the
    /// encoder is then unusable).
    private static func writePattern<P: HemeraPattern>(
        _ pattern: P,
        fixed: FixedPart,
        into encoder: FlatPatternEncoder
    ) -> Bool {
        encoder.writer.raw("{")
        if !fixed.members.isEmpty {
            encoder.writer.raw(fixed.members)
            encoder.count = 1  // the payload's members follow with a comma
        }
        // Appended, not assigned: a reused encoder's array keeps its storage (an assignment would
        // share `fixed.parts`' and copy it at the first append). One by one: `append(contentsOf:)`
        // of two or three parts cost about 380 instructions.
        for part in fixed.parts { encoder.parts.append(part) }
        do {
            try pattern.encode(to: encoder)
        } catch {
            return false
        }
        guard !encoder.failed else { return false }
        encoder.writer.raw("}")
        return sortMethodParts(&encoder.parts)
    }

    /// Sorts the `method` parts by key; `false` when two have the same key (a payload member named
    /// like a routing key: the general path decides).
    static func sortMethodParts(_ parts: inout [(key: String, value: String)]) -> Bool {
        parts.sort { $0.key < $1.key }
        // Neighbours compared in place: no copy (and retain) of each part and key.
        var index = 1
        while index < parts.count {
            if parts[index].key == parts[index - 1].key { return false }
            index += 1
        }
        return true
    }

    /// The `method` string of sorted parts: `key:value` joined by commas.
    static func methodString(_ parts: [(key: String, value: String)]) -> String {
        var method = ""
        method.reserveCapacity(64)
        for part in parts {
            if !method.isEmpty { method += "," }
            method += part.key
            method += ":"
            method += part.value
        }
        return method
    }

    /// A request envelope under way: `{"pattern":` and the pattern, written by the flat path
    /// straight into `encoder`'s writer, which the caller completes
    /// (``Hemera/writeEnvelopeRest(into:topic:method:meta:delegate:type:current:)``). The pattern
    /// is not written into bytes of its own and then copied into the envelope.
    struct StartedEnvelope {
        let encoder: FlatPatternEncoder
        /// The `method` parts, sorted (in `encoder.parts`): written into the envelope by
        /// ``Hemera/writeEnvelopeRest(into:topic:method:meta:delegate:type:current:)`` with no
        /// `String` of their own.
        var methodParts: [(key: String, value: String)] { encoder.parts }
        let topic: String
    }

    /// Starts a request envelope with `pattern` through the flat path; `nil` when it cannot encode
    /// it (the general path, ``init(encoding:)``, then decides).
    static func startEnvelope<P: HemeraPattern>(_ pattern: P, fixed: FixedPart) -> StartedEnvelope? {
        // Room for the whole envelope of a small pattern (about 3x the pattern plus 300 bytes):
        // larger ones grow the writer by doubling, as the pattern's own writer did.
        // This thread's reusable encoder: the caller gives it back (`finish()`) once it copied
        // the envelope out, before it suspends.
        let encoder = FlatPatternEncoder.reusable(capacity: 1024)
        encoder.writer.raw("{\"pattern\":")
        guard writePattern(pattern, fixed: fixed, into: encoder) else {
            encoder.finish()
            return nil
        }
        return StartedEnvelope(encoder: encoder, topic: P.topic)
    }

    static func flat<P: HemeraPattern>(_ pattern: P) -> EncodedTypedPattern? {
        flat(pattern, fixed: fixedPart(of: P.self))
    }
}
