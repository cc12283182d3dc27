public import HemeraJSON

/// JSON text for people: deterministic key order (chosen keys first, `topic` and `cmd` unless
/// told otherwise, then sorted), compact or indented, numbers as JavaScript prints them (`3`, not
/// `3.0`).
public enum JSONText {
    /// The keys printed first in patterns.
    public static let patternKeys = ["topic", "cmd"]
    /// The keys printed first in errors.
    public static let errorKeys = ["name", "message", "code", "details"]

    /// Renders `value` as JSON text.
    ///
    /// - Parameters:
    ///   - value: the value to render.
    ///   - pretty: indent nested arrays and objects by two spaces.
    ///   - firstKeys: keys printed first, in this order, in every object; the rest sorted.
    public static func render(_ value: JSONValue, pretty: Bool = false, firstKeys: [String] = patternKeys) -> String {
        var out = ""
        write(value, to: &out, pretty: pretty, indent: 0, firstKeys: firstKeys)
        return out
    }

    /// The order keys are printed in: `firstKeys` first, then the rest sorted.
    public static func orderedKeys(_ members: [String: JSONValue], firstKeys: [String] = patternKeys) -> [String] {
        func rank(_ key: String) -> Int { firstKeys.firstIndex(of: key) ?? firstKeys.count }
        return members.keys.sorted { lhs, rhs in
            let left = rank(lhs)
            let right = rank(rhs)
            return left != right ? left < right : lhs < rhs
        }
    }

    private static func write(_ value: JSONValue, to out: inout String, pretty: Bool, indent: Int, firstKeys: [String])
    {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .integer(let number): out += String(number)
        case .double(let number): out += formatNumber(number)
        case .string(let text): writeString(text, to: &out)
        case .array(let elements):
            if elements.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                if pretty { newline(&out, indent + 1) }
                write(element, to: &out, pretty: pretty, indent: indent + 1, firstKeys: firstKeys)
            }
            if pretty { newline(&out, indent) }
            out += "]"
        case .object(let members):
            if members.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            for (index, key) in orderedKeys(members, firstKeys: firstKeys).enumerated() {
                if index > 0 { out += "," }
                if pretty { newline(&out, indent + 1) }
                writeString(key, to: &out)
                out += pretty ? ": " : ":"
                write(members[key] ?? .null, to: &out, pretty: pretty, indent: indent + 1, firstKeys: firstKeys)
            }
            if pretty { newline(&out, indent) }
            out += "}"
        }
    }

    private static func newline(_ out: inout String, _ level: Int) {
        out += "\n"
        out += String(repeating: "  ", count: level)
    }

    /// `3` for 3.0, `0.5`, `1e+21`; `null` for NaN and infinities (as `JSON.stringify`).
    public static func formatNumber(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }

    private static func writeString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
