// The one JSON reader of this layer: lexing and validation of every token (strings, numbers,
// literals, white space), with RFC 8259's grammar and one set of number rules. Three consumers sit
// on it: the tape (`Tape.swift`, what `HemeraJSONDecoder` reads), the `JSONValue` builder below
// (`JSONValue(parsing:)`, and the envelope parser's members), and the envelope parser's walkers
// (`EnvelopeParser.swift`, which skips what it does not need). No C, no thread-local state: a
// scanner is a value on the caller's stack.

/// Number rules (the same for every consumer):
/// - Integer text (no fraction, no exponent) that fits in `Int64` is an integer; `-0` is the
///   double `-0.0` (as in JavaScript and Foundation).
/// - Anything else is a double, correctly rounded, among it integer text beyond `Int64`
///   (`123456789012345680000`, which JavaScript writes for `1.2345678901234568e20`). Integer
///   targets read such numbers from their text, exactly (`_exactInteger`), never from the double.
/// - A number beyond `Double`'s range (`1e400`) is rejected; one below its smallest subnormal reads
///   as zero.
enum _Number {
    case integer(Int64)
    case double(Double)
}

/// A JSON scanner over bytes in memory: an index and the grammar.
struct _JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    typealias Failure = EnvelopeParser.Failure

    /// The reason given for containers nested deeper than the limit.
    static let nestingTooDeep = "nesting too deep"

    @inline(__always) mutating func skipSpace() {
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            index += 1
        }
    }

    func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

    /// The error for bytes after the value (a NUL byte named as such: jansson-era inputs used it
    /// to end a document early).
    func trailingData() -> Failure {
        if bytes[index] == 0 {
            return fail("a NUL byte, which JSON text never contains (write \\u0000 in a string)")
        }
        return fail("unexpected data after the value")
    }

    // MARK: Literals

    mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("invalid literal") }
        let start = word.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] { throw fail("invalid literal") }
        index += count
    }

    // MARK: Strings

    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Moves `index` over string bytes that need no attention (no quote, backslash or control
    /// character), eight at a time, and ORs them into `high` (a non-ASCII byte shows as a top
    /// bit). In the word that holds one of those bytes it stops exactly on the first of them, so
    /// the caller's byte loop sees that byte next and never reloads the word once per plain byte
    /// before it (which it did before: a 64-byte string with a quote in its last word cost up to
    /// seven extra loads and tests). With fewer than eight bytes left it stops, and the caller's
    /// byte loop goes on from there.
    @inline(__always) mutating func skipPlainWords(_ high: inout UInt64) {
        guard let base = bytes.baseAddress else { return }
        let ones: UInt64 = 0x0101_0101_0101_0101
        while index + 8 <= bytes.count {
            // Safe: `index + 8 <= bytes.count`, so the eight bytes read lie inside `bytes`; an
            // unaligned load reads them as they are, whatever the address. Read as little-endian,
            // byte k of the text is bits 8k..<8k+8 on every host.
            let word = UInt64(littleEndian: UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            // "Some byte is zero" (a quote or backslash) and "some byte is below 0x20" (a control
            // character). A borrow only runs upwards, from a byte that really matched, so the
            // lowest flagged byte is always a real one (bytes above it may be false positives).
            let special =
                (((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes)
                    | ((word &- ones &* 0x20) & ~word)) & Self.highBits
            if special != 0 {
                // The plain bytes below the first special one: their count, and their top bits.
                let plain = special.trailingZeroBitCount >> 3
                high |= word & ((1 &<< UInt64(plain &* 8)) &- 1)
                index += plain
                return
            }
            high |= word
            index += 8
        }
    }

    /// Validates a string (the cursor is at its opening quote) and moves past its closing quote.
    /// Returns whether it holds escapes (its bytes then need `_unescape` before use).
    @inline(__always)
    mutating func scanString() throws(Failure) -> Bool {
        index += 1
        var start = index
        var high: UInt64 = 0
        var escaped = false
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
                    return escaped
                }
                escaped = true
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                switch bytes[index] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
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

    /// Validates and skips a string.
    @inline(__always) mutating func skipString() throws(Failure) { _ = try scanString() }

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

    mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = _hexDigit(bytes[index]) else { throw fail("invalid \\u escape") }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Reads a string (the cursor is at its opening quote).
    mutating func string() throws(Failure) -> String {
        let start = index + 1
        let escaped = try scanString()
        let content = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<(index - 1)])
        return escaped ? _unescape(content) : _string(content)
    }

    // MARK: Numbers

    /// Reads a number (the cursor is at its first byte), by the rules at the top of this file.
    @inline(__always)
    mutating func number() throws(Failure) -> _Number {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count, let first = _digit(bytes[index]) else { throw fail("invalid value") }
        index += 1
        // Up to 19 significant digits in `mantissa` (always below 10^19, so no overflow); the
        // value is `mantissa * 10^exponent` exactly unless `inexact` (digits were dropped).
        var mantissa = UInt64(first)
        var digits = first == 0 ? 0 : 1
        var exponent = 0
        var inexact = false
        if first != 0 {
            while index < bytes.count, let digit = _digit(bytes[index]) {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(digit)
                    digits += 1
                } else {
                    exponent += 1
                    if digit != 0 { inexact = true }
                }
                index += 1
            }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let fraction = index
            while index < bytes.count, let digit = _digit(bytes[index]) {
                if digits < 19 {
                    if mantissa != 0 || digit != 0 {
                        mantissa = mantissa &* 10 &+ UInt64(digit)
                        digits += 1
                    }
                    exponent -= 1
                } else if digit != 0 {
                    inexact = true
                }
                index += 1
            }
            guard index > fraction else { throw fail("invalid number") }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            var negativeExponent = false
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                negativeExponent = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            let exponentDigits = index
            var written = 0
            while index < bytes.count, let digit = _digit(bytes[index]) {
                if written < 100_000 { written = written * 10 + Int(digit) }  // saturates far past any double
                index += 1
            }
            guard index > exponentDigits else { throw fail("invalid number") }
            exponent += negativeExponent ? -written : written
        }
        if isInteger && exponent == 0 {
            if negative {
                if mantissa == 0 { return .double(-0.0) }
                if mantissa <= UInt64(Int64.max) + 1 { return .integer(Int64(truncatingIfNeeded: 0 &- mantissa)) }
            } else if mantissa <= UInt64(Int64.max) {
                return .integer(Int64(mantissa))
            }
        }
        // Exact operands and one correctly rounded operation (Clinger's fast path).
        if mantissa == 0 && !inexact { return .double(negative ? -0.0 : 0.0) }
        if !inexact, mantissa < 1 << 53, (-22...22).contains(exponent) {
            var value = Double(mantissa)
            value = exponent < 0 ? value / _powersOfTen[-exponent] : value * _powersOfTen[exponent]
            return .double(negative ? -value : value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            index = start
            throw fail("number out of range")
        }
        return .double(value)
    }

    // MARK: Skipping

    /// Validates and skips one value without building it.
    mutating func skip(depth: Int, maxDepth: Int) throws(Failure) {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard depth <= maxDepth else { throw fail(Self.nestingTooDeep) }
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
                try skip(depth: depth + 1, maxDepth: maxDepth)
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
        default: _ = try number()
        }
    }

    // MARK: JSONValue

    /// Builds a `JSONValue` (the cursor is at its first byte). `depth` counts the containers
    /// around it; a container deeper than `maxDepth` throws `nesting too deep`. Duplicate keys:
    /// the last wins, or `duplicate object key` when `rejectsDuplicates`.
    mutating func value(depth: Int, maxDepth: Int, rejectsDuplicates: Bool = false) throws(Failure) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return try object(depth: depth + 1, maxDepth: maxDepth, rejectsDuplicates: rejectsDuplicates)
        case UInt8(ascii: "["):
            return try array(depth: depth + 1, maxDepth: maxDepth, rejectsDuplicates: rejectsDuplicates)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            switch try number() {
            case .integer(let value): return .integer(value)
            case .double(let value): return .double(value)
            }
        }
    }

    mutating func object(depth: Int, maxDepth: Int, rejectsDuplicates: Bool) throws(Failure) -> JSONValue {
        guard depth <= maxDepth else { throw fail(Self.nestingTooDeep) }
        index += 1
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object([:])
        }
        // Sized at once: no resize for up to 8 members (each resize asks the runtime for the
        // storage's generic metadata).
        var members = [String: JSONValue](minimumCapacity: 8)
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let keyStart = index
            let key = try string()
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipSpace()
            let value = try value(depth: depth, maxDepth: maxDepth, rejectsDuplicates: rejectsDuplicates)
            if members.updateValue(value, forKey: key) != nil, rejectsDuplicates {
                index = keyStart
                throw fail("duplicate object key \(_quoted(key))")
            }
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

    mutating func array(depth: Int, maxDepth: Int, rejectsDuplicates: Bool) throws(Failure) -> JSONValue {
        guard depth <= maxDepth else { throw fail(Self.nestingTooDeep) }
        index += 1
        var elements: [JSONValue] = []
        skipSpace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try value(depth: depth, maxDepth: maxDepth, rejectsDuplicates: rejectsDuplicates))
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
}

// MARK: - Helpers shared by the scanner and the tape's readers

@inline(__always) func _digit(_ byte: UInt8) -> UInt8? {
    let digit = byte &- UInt8(ascii: "0")
    return digit < 10 ? digit : nil
}

@inline(__always) func _hexDigit(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// 10^0 … 10^22, the powers of ten that are exact doubles.
let _powersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
    1e19, 1e20, 1e21, 1e22,
]

/// A string from UTF-8 bytes the scanner validated. `String(unsafeUninitializedCapacity:)` builds a
/// short ASCII string with a single check on its two words (invalid UTF-8 would be repaired, never
/// trusted).
@inline(__always)
func _string(_ bytes: UnsafeRawBufferPointer) -> String {
    guard bytes.count > 0 else { return "" }
    return String(unsafeUninitializedCapacity: bytes.count) { buffer in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
        return bytes.count
    }
}

/// The string a validated string body with escapes stands for. It is never longer than the body
/// (each escape is at least as long as the UTF-8 it stands for), so it is written in place.
func _unescape(_ body: UnsafeRawBufferPointer) -> String {
    String(unsafeUninitializedCapacity: body.count) { buffer in
        _unescape(body, into: buffer.baseAddress!)
    }
}

/// Writes the UTF-8 of a validated string body with escapes to `output` (room for `body.count`
/// bytes); returns the count written.
func _unescape(_ body: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>) -> Int {
    var read = 0
    var written = 0
    @inline(__always) func put(_ byte: UInt8) {
        output[written] = byte
        written += 1
    }
    func hex(_ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 4 | UInt32(_hexDigit(body[at + offset]) ?? 0) }
        return value
    }
    while read < body.count {
        let byte = body[read]
        guard byte == UInt8(ascii: "\\") else {
            put(byte)
            read += 1
            continue
        }
        let escape = body[read + 1]
        read += 2
        switch escape {
        case UInt8(ascii: "b"): put(0x08)
        case UInt8(ascii: "f"): put(0x0C)
        case UInt8(ascii: "n"): put(0x0A)
        case UInt8(ascii: "r"): put(0x0D)
        case UInt8(ascii: "t"): put(0x09)
        case UInt8(ascii: "u"):
            var scalar = hex(read)
            read += 4
            if (0xD800...0xDBFF).contains(scalar) {
                // The scanner checked a low surrogate escape follows.
                let low = hex(read + 2)
                read += 6
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            switch scalar {
            case ..<0x80:
                put(UInt8(scalar))
            case ..<0x800:
                put(UInt8(0xC0 | scalar >> 6))
                put(UInt8(0x80 | scalar & 0x3F))
            case ..<0x10000:
                put(UInt8(0xE0 | scalar >> 12))
                put(UInt8(0x80 | scalar >> 6 & 0x3F))
                put(UInt8(0x80 | scalar & 0x3F))
            default:
                put(UInt8(0xF0 | scalar >> 18))
                put(UInt8(0x80 | scalar >> 12 & 0x3F))
                put(UInt8(0x80 | scalar >> 6 & 0x3F))
                put(UInt8(0x80 | scalar & 0x3F))
            }
        default: put(escape)  // `"`, `\`, `/`
        }
    }
    return written
}

/// What a number's text is as an integer: for integer targets, which must never read a value
/// through a rounded double (`-9223372036854775809` is not `Int64.min`).
enum _ExactInteger {
    /// An integer of this sign and magnitude.
    case value(negative: Bool, magnitude: UInt64)
    /// An integer beyond `UInt64` either way.
    case tooLarge
    /// Not an integer (`1.5`, `1e-1`).
    case fraction
}

/// The exact value of validated JSON number text, as an integer if it is one (`1e3` and `10.0`
/// are).
func _exactInteger(_ text: UnsafeRawBufferPointer) -> _ExactInteger {
    var index = 0
    let negative = text.first == UInt8(ascii: "-")
    if negative { index += 1 }
    var significant: [UInt8] = []  // digits, without leading zeros
    var scale = 0  // the value is `significant * 10^scale`
    while index < text.count, let digit = _digit(text[index]) {
        if !(significant.isEmpty && digit == 0) { significant.append(digit) }
        index += 1
    }
    if index < text.count, text[index] == UInt8(ascii: ".") {
        index += 1
        while index < text.count, let digit = _digit(text[index]) {
            if !(significant.isEmpty && digit == 0) { significant.append(digit) }
            scale -= 1
            index += 1
        }
    }
    if index < text.count, text[index] | 0x20 == UInt8(ascii: "e") {
        index += 1
        var negativeExponent = false
        if index < text.count, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") {
            negativeExponent = text[index] == UInt8(ascii: "-")
            index += 1
        }
        var exponent = 0
        while index < text.count, let digit = _digit(text[index]) {
            if exponent < 100_000 { exponent = exponent * 10 + Int(digit) }
            index += 1
        }
        scale += negativeExponent ? -exponent : exponent
    }
    if significant.isEmpty { return .value(negative: negative, magnitude: 0) }
    while scale < 0, significant.last == 0 {
        significant.removeLast()
        scale += 1
    }
    if scale < 0 { return .fraction }
    if significant.count + scale > 20 { return .tooLarge }
    var magnitude: UInt64 = 0
    for digit in significant + Array(repeating: 0, count: scale) {
        let (times, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit))
        if overflow1 || overflow2 { return .tooLarge }
        magnitude = sum
    }
    return .value(negative: negative, magnitude: magnitude)
}
