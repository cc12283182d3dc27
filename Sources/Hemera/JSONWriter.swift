import HemeraJSON

/// Writes compact JSON straight into a byte buffer, formatting numbers as JavaScript does.
///
/// The envelope of every request and reply is written with it in one pass, so no intermediate
/// `JSONValue` tree of the whole message is built.
struct JSONWriter {
    var bytes: [UInt8]

    init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) mutating func raw(_ byte: UInt8) { bytes.append(byte) }

    mutating func raw(_ string: StaticString) {
        string.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Writes `"key":`.
    mutating func key(_ key: String) {
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var start = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { continue }
                if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index])) }
                start = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func integer(_ value: Int64) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            if value < 0 { bytes.append(UInt8(ascii: "-")) }
            var index = count - 1
            while index >= 0 {
                bytes.append(buffer[index])
                index -= 1
            }
        }
    }

    mutating func double(_ value: Double) {
        guard value.isFinite else {
            raw("null")
            return
        }
        if value == value.rounded(), abs(value) < 9.0e15 {
            integer(Int64(value))
            return
        }
        bytes.append(contentsOf: formatJavaScriptNumber(value).utf8)
    }

    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): flag ? raw("true") : raw("false")
        case .integer(let number): integer(number)
        case .double(let number): double(number)
        case .string(let text): string(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                self.value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            object(members)
        }
    }

    mutating func object(_ members: [String: JSONValue]) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (name, member) in members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            key(name)
            value(member)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}

/// Formats a number as JavaScript's `Number.prototype.toString()` does: `1` (not `1.0`), `0.1`,
/// `1e+21`, `1e-7`, `123456789012345680000`.
func formatJavaScriptNumber(_ value: Double) -> String {
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
    var hemeraBytes: [UInt8] {
        var writer = JSONWriter()
        writer.value(self)
        return writer.bytes
    }
}
