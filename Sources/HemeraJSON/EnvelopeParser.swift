// The hand-written envelope parser: package API for the facade's hot path (requests at a
// service, replies at a client). It lives in the JSON layer because it measured materially faster
// than jansson plus the JSONValue tree on Hemera envelopes (2.2x at 100 B, 14x at 16 KiB of
// payload; docs/performance.md), and it is covered like the rest of the layer: the hostile-input
// tests (Tests/HemeraJSONTests/EnvelopeParserTests.swift) and the fuzz target, which checks it
// against jansson on every input.

/// A small, strict JSON parser into ``JSONValue`` for the envelopes on the hot path (requests at a
/// service, replies at a client): one pass over the bytes, no intermediate tree.
///
/// Strict RFC 8259: no comments, no trailing commas, no leading zeros, no bare control characters
/// in strings; `\u` escapes with surrogate pairs; invalid UTF-8 is rejected; nesting is limited.
/// Duplicate keys: the last wins. Anything it rejects is reported as a parse error by the caller.
package struct EnvelopeParser {
    package struct Failure: Error, CustomStringConvertible {
        package var reason: String
        package var offset: Int
        package var description: String { "\(reason) at byte \(offset)" }
    }

    package static let maxDepth = 128

    package static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> JSONValue in
            var parser = Cursor(bytes: buffer)
            parser.skipSpace()
            let value = try parser.value(depth: 0)
            parser.skipSpace()
            guard parser.index == buffer.count else {
                throw Failure(reason: "unexpected data after the value", offset: parser.index)
            }
            return value
        }
    }

    /// A request envelope: every member parsed, except the `trace` and `request` objects, which
    /// are validated and kept as byte ranges (echoed verbatim, parsed only when asked for).
    package struct RequestEnvelope {
        package var members: [String: JSONValue]
        package var trace: Range<Int>?
        package var request: Range<Int>?
        /// Where the (last) `pattern` member's value is, when it is an object: typed services
        /// decode their request type straight from these bytes.
        package var pattern: Range<Int>?
    }

    /// A reply envelope as a typed caller needs it: where `result` is (decoded from those bytes
    /// by the caller), and `error` when it is present and not `null`. Every other member is
    /// validated and skipped. Duplicate keys: the last wins, as in ``parseRequestEnvelope(_:)``.
    package struct ReplyEnvelope {
        /// The byte range of the `result` value, if the key is present.
        package var result: Range<Int>?
        /// The `error` value, when present and not `null`.
        package var error: JSONValue?
    }

    /// Parses a reply envelope for a typed caller: `nil` for valid JSON that is not an object.
    package static func parseReplyEnvelope(_ bytes: [UInt8]) throws(Failure) -> ReplyEnvelope? {
        var envelope = ReplyEnvelope(result: nil, error: nil)
        let isObject = try walkTopLevelObject(bytes) { (parser) throws(Failure) in
            try parser.keyKind()
        } value: { (parser, key) throws(Failure) in
            switch key {
            case .result:
                let start = parser.index
                try parser.skip(depth: 1)
                envelope.result = start..<parser.index
            case .error:
                let error = try parser.value(depth: 1)
                // Not a ternary: `nil` would read as `JSONValue.null` there.
                if error.isNull { envelope.error = nil } else { envelope.error = error }
            case .other:
                try parser.skip(depth: 1)
            }
        }
        return isObject ? envelope : nil
    }

    package static func parseRequestEnvelope(_ bytes: [UInt8]) throws(Failure) -> RequestEnvelope? {
        // One allocation for the usual members (a request's `pattern`, `meta` and `delegate`; a
        // reply's `meta`, `result` and `error`) instead of two while the dictionary grows.
        // `init(minimumCapacity:)`, not `reserveCapacity`: 165 against 200 ns for three members
        // (270 growing), an -O micro-benchmark; each resize asks the runtime for the storage's
        // generic metadata.
        var envelope = RequestEnvelope(
            members: Dictionary(minimumCapacity: 4),
            trace: nil,
            request: nil,
            pattern: nil
        )
        let isObject = try walkTopLevelObject(bytes) { (parser) throws(Failure) in
            try parser.string()
        } value: { (parser, key) throws(Failure) in
            if key == "trace" || key == "request", parser.bytes[parser.index] == UInt8(ascii: "{") {
                let start = parser.index
                try parser.skip(depth: 1)
                if key == "trace" {
                    envelope.trace = start..<parser.index
                } else {
                    envelope.request = start..<parser.index
                }
                envelope.members[key] = nil
            } else {
                let start = parser.index
                let value = try parser.value(depth: 1)
                envelope.members[key] = value
                if key == "trace" {
                    envelope.trace = nil
                } else if key == "request" {
                    envelope.request = nil
                } else if key == "pattern" {
                    if case .object = value { envelope.pattern = start..<parser.index } else { envelope.pattern = nil }
                }
            }
        }
        return isObject ? envelope : nil
    }

    /// Walks a whole document that should be one JSON object, strictly: `key` reads each member's
    /// key (the cursor is at its opening quote), `value` consumes its value (the cursor is at its
    /// first byte). Returns `false` for a valid document that is not an object; throws for invalid
    /// JSON or data after the value.
    @inline(__always)
    private static func walkTopLevelObject<Key>(
        _ bytes: [UInt8],
        key readKey: (inout Cursor) throws(Failure) -> Key,
        value readValue: (inout Cursor, Key) throws(Failure) -> Void
    ) throws(Failure) -> Bool {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> Bool in
            var parser = Cursor(bytes: buffer)
            parser.skipSpace()
            guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "{") else {
                _ = try parser.value(depth: 0)  // valid JSON, not an object; or throws
                parser.skipSpace()
                guard parser.index == buffer.count else {
                    throw Failure(reason: "unexpected data after the value", offset: parser.index)
                }
                return false
            }
            parser.index += 1
            parser.skipSpace()
            if parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "}") {
                parser.index += 1
            } else {
                while true {
                    parser.skipSpace()
                    guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "\"") else {
                        throw parser.fail("expected a key")
                    }
                    let key = try readKey(&parser)
                    parser.skipSpace()
                    guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: ":") else {
                        throw parser.fail("expected ':'")
                    }
                    parser.index += 1
                    parser.skipSpace()
                    guard parser.index < buffer.count else { throw parser.fail("unexpected end of input") }
                    try readValue(&parser, key)
                    parser.skipSpace()
                    guard parser.index < buffer.count else { throw parser.fail("unterminated object") }
                    if buffer[parser.index] == UInt8(ascii: ",") {
                        parser.index += 1
                        continue
                    }
                    guard buffer[parser.index] == UInt8(ascii: "}") else { throw parser.fail("expected ',' or '}'") }
                    parser.index += 1
                    break
                }
            }
            parser.skipSpace()
            guard parser.index == buffer.count else {
                throw Failure(reason: "unexpected data after the value", offset: parser.index)
            }
            return true
        }
    }

    /// Parses `range` of `bytes`.
    package static func parse(_ bytes: [UInt8], range: Range<Int>) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> JSONValue in
            var parser = Cursor(bytes: UnsafeBufferPointer(rebasing: buffer[range]))
            return try parser.value(depth: 0)
        }
    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        @inline(__always) mutating func skipSpace() {
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
                index += 1
            }
        }

        func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

        enum ReplyKey { case result, error, other }

        /// Reads a key of a reply envelope without making a string: which of the two keys a
        /// typed caller reads it is (escaped spellings of them count too), or another one.
        mutating func keyKind() throws(Failure) -> ReplyKey {
            let start = index + 1
            try skipString()
            let length = index - 1 - start
            let word = UnsafeBufferPointer(rebasing: bytes[start..<(start + length)])
            if word.elementsEqual("result".utf8) { return .result }
            if word.elementsEqual("error".utf8) { return .error }
            if word.contains(UInt8(ascii: "\\")) {
                // An escaped key: decode it the slow way.
                index = start - 1
                switch try string() {
                case "result": return .result
                case "error": return .error
                default: return .other
                }
            }
            return .other
        }

        mutating func value(depth: Int) throws(Failure) -> JSONValue {
            guard index < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return try number()
            }
        }

        /// Validates and skips one value without building it.
        mutating func skip(depth: Int) throws(Failure) {
            guard index < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth <= EnvelopeParser.maxDepth else { throw fail("nesting too deep") }
                let isObject = bytes[index] == UInt8(ascii: "{")
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                index += 1
                skipSpace()
                if index < bytes.count, bytes[index] == close {
                    index += 1
                    return
                }
                while true {
                    skipSpace()
                    if isObject {
                        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                            throw fail("expected a key")
                        }
                        try skipString()
                        skipSpace()
                        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                        index += 1
                        skipSpace()
                    }
                    try skip(depth: depth + 1)
                    skipSpace()
                    guard index < bytes.count else { throw fail("unterminated container") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    guard bytes[index] == close else { throw fail("expected ',' or a closing bracket") }
                    index += 1
                    return
                }
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try skipNumber()
            }
        }

        /// Moves over the optional fraction (`.digits`) and exponent (`e[+-]digits`) after a
        /// number's integer part, the grammar ``number()`` and ``skipNumber()`` share; tells which
        /// of the two were there.
        @inline(__always)
        mutating func fractionAndExponent() throws(Failure) -> (fraction: Bool, exponent: Bool) {
            var fraction = false
            var exponent = false
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                fraction = true
                index += 1
                let digits = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                guard index > digits else { throw fail("invalid number") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                exponent = true
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                let digits = index
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                guard index > digits else { throw fail("invalid number") }
            }
            return (fraction, exponent)
        }

        /// Validates and skips a number (the grammar of ``number()``, nothing converted). A skipped
        /// number is never read, so its range does not matter; `number()` would reject only
        /// overflowing doubles, which `skip` callers validate as `number()` did (see below).
        mutating func skipNumber() throws(Failure) {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
                throw fail("invalid value")
            }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            }
            let (_, exponent) = try fractionAndExponent()
            // Without an exponent, a number of up to 300 digits is a finite double; anything else
            // goes through `number()` for the same out-of-range rejection as before.
            if exponent || index - start > 300 {
                index = start
                _ = try number()
            }
        }

        /// Validates and skips a string (escapes, control characters, UTF-8) without building it.
        mutating func skipString() throws(Failure) {
            index += 1
            var start = index
            var high: UInt64 = 0
            while index < bytes.count {
                skipPlainWords(&high)
                guard index < bytes.count else { break }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    // An all-ASCII segment is valid UTF-8: nothing to check.
                    if high & Self.highBits != 0 { try validateUTF8(start..<index) }
                    high = 0
                    if byte == UInt8(ascii: "\"") {
                        index += 1
                        return
                    }
                    index += 1
                    guard index < bytes.count else { throw fail("unterminated escape") }
                    switch bytes[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        let scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                bytes[index + 1] == UInt8(ascii: "u")
                            else {
                                throw fail("lone surrogate")
                            }
                            index += 2
                            guard (0xDC00...0xDFFF).contains(try hex4()) else { throw fail("invalid surrogate pair") }
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw fail("lone surrogate")
                        }
                    default:
                        throw fail("invalid escape")
                    }
                    start = index
                    continue
                }
                if byte < 0x20 { throw fail("control character in a string") }
                high |= UInt64(byte)
                index += 1
            }
            throw fail("unterminated string")
        }

        static let highBits: UInt64 = 0x8080_8080_8080_8080

        /// Moves `index` over string bytes that need no attention (no quote, backslash or control
        /// character), eight at a time, and ORs them into `high` (a non-ASCII byte shows as a top
        /// bit). Stops before the first word holding one of those bytes, or with fewer than eight
        /// left: the caller's byte loop goes on from there and sees every byte that matters at the
        /// offset it always did. Strings here are ids, method strings and payloads of up to
        /// kilobytes, so this is most of the parse.
        @inline(__always) mutating func skipPlainWords(_ high: inout UInt64) {
            guard let base = bytes.baseAddress else { return }
            let ones: UInt64 = 0x0101_0101_0101_0101
            while index + 8 <= bytes.count {
                // Safe: `index + 8 <= bytes.count`, so the eight bytes read lie inside `bytes`; an
                // unaligned load reads them as they are, whatever the address.
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                let quotes = word ^ (ones &* 0x22)
                let backslashes = word ^ (ones &* 0x5C)
                // Exact tests for "some byte is zero" (a quote or backslash in `word`) and "some
                // byte is below 0x20" (a control character), whatever the byte order.
                let special =
                    ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes)
                    | ((word &- ones &* 0x20) & ~word)
                if special & Self.highBits != 0 { return }
                high |= word
                index += 8
            }
        }

        /// The string of `range`, which holds ASCII only (valid UTF-8 as it is).
        @inline(__always) func asciiString(_ range: Range<Int>) -> String {
            guard !range.isEmpty else { return "" }
            // Safe: `range` lies within `bytes` (the caller has just scanned it), and the string's
            // buffer has room for exactly `range.count` bytes, so the copy stays inside both.
            let source = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[range])
            return String(unsafeUninitializedCapacity: range.count) { buffer in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
                return range.count
            }
        }

        /// Checks that `range` is valid UTF-8. Callers skip it for all-ASCII runs (`skipPlainWords`
        /// collects the high bits), so it only sees text with a non-ASCII byte.
        func validateUTF8(_ range: Range<Int>) throws(Failure) {
            var iterator = UnsafeBufferPointer(rebasing: bytes[range]).makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid: continue
                case .emptyInput: return
                case .error: throw fail("invalid UTF-8 in a string")
                }
            }
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("invalid literal") }
            let start = word.utf8Start
            for offset in 0..<count where bytes[index + offset] != start[offset] { throw fail("invalid literal") }
            index += count
        }

        mutating func object(depth: Int) throws(Failure) -> JSONValue {
            guard depth <= EnvelopeParser.maxDepth else { throw fail("nesting too deep") }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object([:])
            }
            // Sized at once (see `parseRequestEnvelope`): no resize for up to 8 members.
            var members = [String: JSONValue](minimumCapacity: 8)
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                skipSpace()
                members[key] = try value(depth: depth)
                skipSpace()
                guard index < bytes.count else { throw fail("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                index += 1
                return .object(members)
            }
        }

        mutating func array(depth: Int) throws(Failure) -> JSONValue {
            guard depth <= EnvelopeParser.maxDepth else { throw fail("nesting too deep") }
            index += 1
            var elements: [JSONValue] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipSpace()
                elements.append(try value(depth: depth))
                skipSpace()
                guard index < bytes.count else { throw fail("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                index += 1
                return .array(elements)
            }
        }

        mutating func string() throws(Failure) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes. ASCII (keys, ids, most values) is copied as it is; anything
            // else is checked by `validateUTF8` first. Not `String(validating:as:)`: it is generic
            // and unspecialized here, a metadata look-up per string (measured, docs/performance.md).
            var high: UInt64 = 0
            while index < bytes.count {
                skipPlainWords(&high)
                guard index < bytes.count else { break }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let end = index
                    index += 1
                    if high & Self.highBits == 0 { return asciiString(start..<end) }
                    try validateUTF8(start..<end)
                    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw fail("control character in a string") }
                high |= UInt64(byte)
                index += 1
            }
            guard index < bytes.count else { throw fail("unterminated string") }
            // Slow path with escapes.
            var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    guard let text = String(validating: buffer, as: UTF8.self) else {
                        throw fail("invalid UTF-8 in a string")
                    }
                    return text
                }
                if byte < 0x20 { throw fail("control character in a string") }
                if byte != UInt8(ascii: "\\") {
                    buffer.append(byte)
                    index += 1
                    continue
                }
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): buffer.append(0x22)
                case UInt8(ascii: "\\"): buffer.append(0x5C)
                case UInt8(ascii: "/"): buffer.append(0x2F)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else {
                            throw fail("lone surrogate")
                        }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("lone surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid escape") }
                    buffer.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw fail("invalid escape")
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        mutating func number() throws(Failure) -> JSONValue {
            let start = index
            var negative = false
            if bytes[index] == UInt8(ascii: "-") {
                negative = true
                index += 1
            }
            guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
                throw fail("invalid value")
            }
            var integer: UInt64 = 0
            var overflow = false
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                    let (times, o1) = integer.multipliedReportingOverflow(by: 10)
                    let (plus, o2) = times.addingReportingOverflow(UInt64(bytes[index] - UInt8(ascii: "0")))
                    overflow = overflow || o1 || o2
                    integer = plus
                    index += 1
                }
            }
            let (fraction, exponent) = try fractionAndExponent()
            let isInteger = !fraction && !exponent
            if isInteger && !overflow {
                if negative {
                    if integer <= UInt64(Int64.max) + 1 {
                        return .integer(integer == UInt64(Int64.max) + 1 ? .min : -Int64(integer))
                    }
                } else if integer <= UInt64(Int64.max) {
                    return .integer(Int64(integer))
                }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let double = Double(text), double.isFinite else { throw fail("number out of range") }
            return .double(double)
        }
    }
}
