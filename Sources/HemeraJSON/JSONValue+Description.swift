extension JSONValue: CustomStringConvertible, CustomDebugStringConvertible {
    /// The value as compact JSON text, object keys sorted (stable output for logs and tests):
    /// `{"a":1,"tags":["x"],"topic":"math"}`. Numbers are written as JavaScript writes them.
    ///
    /// ```swift
    /// let value: JSONValue = ["topic": "math", "a": 1]
    /// print(value)   // {"a":1,"topic":"math"}
    /// ```
    public var description: String {
        var writer = JSONWriter()
        Self.writeSorted(self, into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The same JSON text as ``description`` (`String(reflecting:)`, `dump`, test failure messages).
    public var debugDescription: String { description }

    private static func writeSorted(_ value: JSONValue, into writer: inout JSONWriter) {
        switch value {
        case .null: writer.raw("null")
        case .bool(let flag): flag ? writer.raw("true") : writer.raw("false")
        case .integer(let number): writer.integer(number)
        case .double(let number): writer.double(number)
        case .string(let text): writer.string(text)
        case .array(let elements):
            writer.raw("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { writer.raw(",") }
                writeSorted(element, into: &writer)
            }
            writer.raw("]")
        case .object(let members):
            writer.raw("{")
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { writer.raw(",") }
                writer.string(key)
                writer.raw(":")
                writeSorted(members[key]!, into: &writer)
            }
            writer.raw("}")
        }
    }
}
