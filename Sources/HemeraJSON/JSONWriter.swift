// The package-level JSON writer: compact JSON straight into bytes, numbers formatted as
// JavaScript does. The facade writes every request and reply envelope with it in one pass (no
// intermediate tree of the whole message). It writes into the encoder's `_ByteBuffer`, so the
// escaping and integer code is the encoder's: one writer in the package.

/// Compact JSON written straight into a byte buffer, numbers formatted as JavaScript does.
package struct JSONWriter: ~Copyable {
    var buffer: _ByteBuffer

    package init(capacity: Int = 256) {
        buffer = _ByteBuffer(capacity: capacity)
    }

    /// The bytes written so far (a copy).
    package var bytes: [UInt8] { buffer.toArray() }

    package var count: Int { buffer.count }

    /// Forgets what was written, keeping the memory (a writer reused for the next document).
    package mutating func removeAll() { buffer.removeAll() }

    /// The bytes the writer can hold before it grows (at least what it was made with: a spare
    /// block it was given may be larger).
    package var capacity: Int { buffer.capacity }

    /// Calls `body` with the bytes written so far, without copying them into an array (as
    /// ``bytes`` does): for handing an envelope to the connection's write buffer. The pointer is
    /// valid only inside `body`.
    package func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: buffer.base, count: buffer.count))
    }

    /// Makes room for `extra` more bytes (at most one regrowth for what follows).
    package mutating func reserve(_ extra: Int) { buffer.reserve(extra) }

    @inline(__always) package mutating func raw(_ byte: UInt8) { buffer.append(byte) }

    @inline(__always) package mutating func raw(_ string: StaticString) { buffer.appendASCII(string) }

    package mutating func raw(_ other: [UInt8]) { other.withUnsafeBytes { buffer.append($0) } }

    package mutating func raw(_ other: ArraySlice<UInt8>) { other.withUnsafeBytes { buffer.append($0) } }

    package mutating func raw(_ other: UnsafeRawBufferPointer) { buffer.append(other) }

    /// Writes a non-negative integer's decimal digits (no sign).
    package mutating func digits(_ value: UInt64) { buffer.appendDigits(value) }

    /// Writes `"key":`.
    package mutating func key(_ key: String) {
        buffer.appendString(key)
        buffer.append(UInt8(ascii: ":"))
    }

    package mutating func string(_ value: String) { buffer.appendString(value) }

    /// Writes `value` escaped as inside a JSON string, without the quotes (for a string written
    /// in pieces between ``raw(_:)-(StaticString)`` quotes).
    package mutating func stringContents(_ value: String) {
        // Native strings lend their UTF-8 in place (as `string(_:)` does): no copy of `value` and
        // no retain of it, as a mutable `withUTF8` would take.
        if value.utf8.withContiguousStorageIfAvailable({ buffer.appendEscapedContents($0) }) == nil {
            var value = value
            value.withUTF8 { buffer.appendEscapedContents($0) }
        }
    }

    /// Appends a copy of bytes already written to this writer (`range` of its own output): a
    /// value written twice is escaped once.
    package mutating func copyWritten(_ range: Range<Int>) { buffer.appendCopy(of: range) }

    package mutating func integer(_ value: Int64) { buffer.appendInteger(value) }

    /// A finite double as JavaScript prints it (`null` for NaN and infinities).
    package mutating func double(_ value: Double) {
        guard value.isFinite else {
            raw("null")
            return
        }
        if value == value.rounded(), abs(value) < 9.0e15 {
            integer(Int64(value))
            return
        }
        // At most three decimals (millisecond timestamps with microseconds, as the trace's
        // `timestamp`): written from the integer `value * 1000`, the shortest form, JavaScript's too.
        if buffer.appendThreeDecimals(value) { return }
        buffer.appendPlain(formatJavaScriptNumber(value))
    }

    package mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): flag ? raw("true") : raw("false")
        case .integer(let number): integer(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { buffer.append(UInt8(ascii: ",")) }
                first = false
                self.value(element)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let members):
            object(members)
        }
    }

    package mutating func object(_ members: [String: JSONValue]) {
        buffer.append(UInt8(ascii: "{"))
        var first = true
        for (name, member) in members {
            if !first { buffer.append(UInt8(ascii: ",")) }
            first = false
            key(name)
            value(member)
        }
        buffer.append(UInt8(ascii: "}"))
    }
}

/// Formats a number as JavaScript's `Number.prototype.toString()` does: `1` (not `1.0`), `0.1`,
/// `1e+21`, `1e-7`, `123456789012345680000`.
package func formatJavaScriptNumber(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
    if value == 0 { return "0" }
    // Swift's description is the shortest round-tripping digit string, like JavaScript's; only the
    // layout (where the exponent starts) differs.
    var text = Substring(value.magnitude.description)
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...]) ?? 0
        text = text[..<e]
    }
    var integerPart = text
    var fractionPart: Substring = ""
    if let dot = text.firstIndex(of: ".") {
        integerPart = text[..<dot]
        fractionPart = text[text.index(after: dot)...]
    }
    var digits = Array((integerPart + fractionPart).utf8)
    var pointPosition = integerPart.count + exponent
    while let first = digits.first, first == UInt8(ascii: "0") {
        digits.removeFirst()
        pointPosition -= 1
    }
    while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
    if digits.isEmpty { return "0" }
    let k = digits.count
    let n = pointPosition
    let s = String(decoding: digits, as: UTF8.self)
    var result = value < 0 ? "-" : ""
    if k <= n && n <= 21 {
        result += s + String(repeating: "0", count: n - k)
    } else if 0 < n && n <= 21 {
        result += String(s.prefix(n)) + "." + String(s.dropFirst(n))
    } else if -6 < n && n <= 0 {
        result += "0." + String(repeating: "0", count: -n) + s
    } else {
        let e = n - 1
        let sign = e < 0 ? "-" : "+"
        if k == 1 {
            result += s + "e" + sign + String(abs(e))
        } else {
            result += String(s.prefix(1)) + "." + String(s.dropFirst()) + "e" + sign + String(abs(e))
        }
    }
    return result
}

extension JSONValue {
    /// Compact JSON bytes written by the facade's writer (JavaScript number formatting).
    package var hemeraBytes: [UInt8] {
        var writer = JSONWriter()
        writer.value(self)
        return writer.bytes
    }
}
