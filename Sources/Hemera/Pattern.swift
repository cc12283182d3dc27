public import HemeraJSON

/// A Hemera pattern: a flat JSON object whose `topic` is the NATS subject, plus control options
/// (keys ending in `$`) and, on the service side, regular-expression matchers.
///
/// Write it as a dictionary literal or in Hemera's short form:
/// ```swift
/// let full: Pattern = ["topic": "math", "cmd": "add", "a": 1, "b": 2]
/// let short: Pattern = "topic:math,cmd:add,a:1"   // a is the number 1
/// ```
public struct Pattern: Sendable, ExpressibleByDictionaryLiteral, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The keys sent on the wire (never keys ending in `$`).
    public var keys: [String: JSONValue]
    /// Control options (keys ending in `$`, stored without the `$`), e.g. `timeout`, `pubsub`.
    public var options: [String: JSONValue]
    /// Regular-expression matchers by key (service side only).
    var regexes: [(key: String, regex: RegexMatcher)]

    /// Creates a pattern from the members of a JSON object; `$` keys become options.
    public init(_ members: [String: JSONValue]) {
        keys = [:]
        options = [:]
        regexes = []
        keys.reserveCapacity(members.count)
        for (key, value) in members {
            if key.utf8.last == UInt8(ascii: "$") {
                options[String(key.dropLast())] = value
            } else {
                keys[key] = value
            }
        }
    }

    /// Creates a pattern from a JSON value, which must be an object.
    ///
    /// - Throws: ``HemeraError`` named `InvalidPattern` when `json` is not an object.
    public init(json: JSONValue) throws(HemeraError) {
        guard case .object(let members) = json else {
            throw HemeraError(name: .invalidPattern, message: "A pattern must be a JSON object")
        }
        self.init(members)
    }

    /// A pattern written as a dictionary literal; `$` keys become options.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// Parses Hemera's short form `"topic:math,cmd:add,a:1"`: numbers become numbers,
    /// `true`/`false` Booleans, anything else a string. A value in double or single quotes is a
    /// string as written, quotes removed: `sku:"001"` is the string `001` (where `sku:001` is the
    /// number 1), `name:"a, b"` keeps its comma; `\"` and `\\` escape a quote and a backslash
    /// inside quotes.
    public init(short text: String) {
        var members: [String: JSONValue] = [:]
        var rest = Substring(text)
        while !rest.isEmpty {
            // The key: up to the colon (a part without one is skipped up to the next comma).
            guard let colon = rest.firstIndex(where: { $0 == ":" || $0 == "," }), rest[colon] == ":" else {
                if let comma = rest.firstIndex(of: ",") {
                    rest = rest[rest.index(after: comma)...]
                    continue
                }
                break
            }
            let key = String(rest[..<colon]).trimmed
            rest = rest[rest.index(after: colon)...]
            let value: JSONValue
            let leading = rest.drop { $0 == " " || $0 == "\t" }
            if let quote = leading.first, quote == "\"" || quote == "'" {
                var text = ""
                var index = leading.index(after: leading.startIndex)
                var closed = false
                while index < leading.endIndex {
                    let character = leading[index]
                    if character == "\\", leading.index(after: index) < leading.endIndex {
                        index = leading.index(after: index)
                        text.append(leading[index])
                    } else if character == quote {
                        closed = true
                        index = leading.index(after: index)
                        break
                    } else {
                        text.append(character)
                    }
                    index = leading.index(after: index)
                }
                if closed {
                    value = .string(text)
                    rest = leading[index...]
                    // Whatever follows the closing quote up to the next comma is ignored.
                    rest = rest.firstIndex(of: ",").map { rest[rest.index(after: $0)...] } ?? rest[rest.endIndex...]
                } else {
                    // An unclosed quote: the value as written, up to the next comma.
                    let end = rest.firstIndex(of: ",") ?? rest.endIndex
                    value = Pattern.shortValue(String(rest[..<end]).trimmed)
                    rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[end...]
                }
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = Pattern.shortValue(String(rest[..<end]).trimmed)
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[end...]
            }
            if !key.isEmpty { members[key] = value }
        }
        self.init(members)
    }

    /// A pattern written in the short form, `"topic:math,cmd:add"`.
    public init(stringLiteral value: String) {
        self.init(short: value)
    }

    static func shortValue(_ raw: String) -> JSONValue {
        if raw == "true" { return .bool(true) }
        if raw == "false" { return .bool(false) }
        if let integer = Int64(raw) { return .integer(integer) }
        // Plain decimal notation only (no `inf`, `nan` or hexadecimal forms).
        let decimal = raw.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E")
        }
        if decimal, let number = Double(raw), number.isFinite {
            return .double(number)
        }
        return .string(raw)
    }

    /// The topic (NATS subject), if the pattern has a string `topic`.
    public var topic: String? { keys["topic"]?.stringValue }

    /// Adds a regular-expression matcher for `key` (service side): a message matches when its
    /// value for `key` is a string containing a match.
    public func matching(_ key: String, _ regex: Regex<AnyRegexOutput>) -> Pattern {
        var copy = self
        copy.keys[key] = nil
        copy.regexes.append((key, RegexMatcher(regex: regex, source: nil)))
        return copy
    }

    /// Adds a regular-expression matcher for `key` given as source text, e.g. `"^add"`.
    public func matching(_ key: String, regex source: String) throws -> Pattern {
        var copy = self
        copy.keys[key] = nil
        copy.regexes.append((key, RegexMatcher(regex: try Regex(source), source: source)))
        return copy
    }

    /// Hemera's `method` string: primitive keys sorted, `k:v` joined by `,`.
    public var method: String { Pattern.method(of: keys) }

    static func method(of keys: [String: JSONValue]) -> String {
        var parts: [(String, String)] = []
        parts.reserveCapacity(keys.count)
        for (key, value) in keys {
            switch value {
            case .string(let text): parts.append((key, text))
            case .integer(let number):
                // Beyond 2^53 JavaScript holds (and prints) the nearest double.
                parts.append(
                    (key, number.magnitude < (1 << 53) ? String(number) : formatJavaScriptNumber(Double(number)))
                )
            case .double(let number): parts.append((key, formatJavaScriptNumber(number)))
            case .bool(let flag): parts.append((key, flag ? "true" : "false"))
            default: continue
            }
        }
        parts.sort { $0.0 < $1.0 }
        var result = ""
        for (index, part) in parts.enumerated() {
            if index > 0 { result += "," }
            result += part.0
            result += ":"
            result += part.1
        }
        return result
    }

    /// The wire keys as compact JSON.
    public var description: String { String(decoding: JSONValue.object(keys).hemeraBytes, as: UTF8.self) }
}

/// A compiled regular expression used as a matcher.
///
/// `@unchecked Sendable`: the `Regex` is created once, never mutated, and `Regex` matching does not
/// mutate the regex value; it is only read from any thread.
struct RegexMatcher: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    let source: String?

    func matches(_ value: JSONValue) -> Bool {
        guard case .string(let text) = value else { return false }
        return (try? regex.firstMatch(in: text)) != nil
    }
}

extension String {
    var trimmed: String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" || first == "\n" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" || last == "\n" { view.removeLast() }
        return String(view)
    }
}

/// Type-strict equality of pattern values: numbers by value (`1 == 1.0`), never a number and a
/// string, arrays element-wise; objects never match.
func patternValuesEqual(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.string(let a), .string(let b)): return a == b
    case (.integer(let a), .integer(let b)): return a == b
    case (.integer(let a), .double(let b)): return Double(a) == b
    case (.double(let a), .integer(let b)): return a == Double(b)
    case (.double(let a), .double(let b)): return a == b
    case (.bool(let a), .bool(let b)): return a == b
    case (.null, .null): return true
    case (.array(let a), .array(let b)):
        guard a.count == b.count else { return false }
        for index in a.indices where !patternValuesEqual(a[index], b[index]) { return false }
        return true
    default: return false
    }
}
