// Error messages a person can act on, and their structured form for the RPC layer.

/// A coding key for array positions and synthesized keys (`super`, dictionary keys).
///
/// An index key builds its string only when asked: array elements get one each.
struct _JSONKey: CodingKey, Sendable {
    private let name: String?
    let intValue: Int?

    var stringValue: String { name ?? String(intValue ?? 0) }

    init(stringValue: String) {
        self.name = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.name = nil
        self.intValue = intValue
    }

    init(index: Int) {
        self.name = nil
        self.intValue = index
    }

    static let `super` = _JSONKey(stringValue: "super")
}

/// Renders a coding path the way validation messages show it: `items.0.name`, or `value` at the root.
func _dottedPath(_ path: [any CodingKey]) -> String {
    if path.isEmpty { return "value" }
    var result = ""
    for (offset, key) in path.enumerated() {
        if offset > 0 { result += "." }
        if let index = key.intValue, key.stringValue == String(index) {
            result += String(index)
        } else {
            result += key.stringValue
        }
    }
    return result
}

/// Describes a JSON node in error messages: `the string "Hello"`, `the number 1.5`, `null`, `an object`.
func _describe(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .integer(let number): return "the number \(number)"
    case .double(let number): return "the number \(number)"
    case .string(let text): return "the string \(_quoted(text))"
    case .array: return "an array"
    case .object: return "an object"
    }
}

/// A string quoted for a message, cut to 40 characters.
func _quoted(_ text: String) -> String {
    var shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
    shown = shown.replacingAll("\"", with: "\\\"")
    return "\"" + shown + "\""
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var result = ""
        for character in self {
            if character == target { result += replacement } else { result.append(character) }
        }
        return result
    }
}

/// The input was not valid JSON (RFC 8259).
///
/// Carried as the `underlyingError` of a `DecodingError.dataCorrupted`.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, such as `expected ',' or '}'` or `invalid UTF-8 in a string`.
    public var reason: String
    /// The line of the problem, counted from 1.
    public var line: Int
    /// The column of the problem, counted from 1.
    public var column: Int
    /// The byte offset of the problem.
    public var position: Int

    public var description: String {
        "invalid JSON at line \(line), column \(column): \(reason)"
    }

    init(reason: String, line: Int, column: Int, position: Int) {
        self.reason = reason
        self.line = line
        self.column = column
        self.position = position
    }

    /// The error for a reader's failure in `input`, with its line and column.
    init(_ failure: EnvelopeParser.Failure, in input: UnsafeRawBufferPointer) {
        let offset = min(max(failure.offset, 0), input.count)
        var line = 1
        var lineStart = 0
        for index in 0..<offset where input[index] == 0x0A {
            line += 1
            lineStart = index + 1
        }
        self.init(reason: failure.reason, line: line, column: offset - lineStart + 1, position: offset)
    }
}

/// A decoding failure in the form validation errors take: where, what, and which kind.
///
/// The RPC layer builds Joi-like error details from it:
///
/// ```swift
/// do {
///     _ = try HemeraJSONDecoder().decode(Add.self, from: payload)
/// } catch let error as DecodingError {
///     let issue = JSONDecodingIssue(error)
///     // issue.path == ["a"], issue.message == #"a: expected a number, found the string "Hello""#
///     // issue.kind == .typeMismatch
/// }
/// ```
public struct JSONDecodingIssue: Sendable, Hashable {
    /// What went wrong.
    public enum Kind: String, Sendable, Hashable {
        /// A required key is missing (`<path>: is required`).
        case required
        /// A value has the wrong JSON type, or is `null` where a value is required.
        case typeMismatch
        /// A value has the right JSON type but is not acceptable (out of range, bad date, bad base64…).
        case invalidValue
        /// The input is not JSON at all, or breaks a limit (depth, size).
        case invalidJSON
    }

    /// The path of the offending value: keys, and array indices written in decimal.
    public var path: [String]
    /// The message to show, of the form `<dotted path>: expected <type>, found <description>`.
    public var message: String
    /// The kind of failure.
    public var kind: Kind
    /// The closest Joi error type: `any.required`, `number.base`, `string.base`, `boolean.base`,
    /// `object.base`, `array.base`, or `any.invalid`.
    public var joiType: String

    /// Describes `error`, a `DecodingError` thrown by ``HemeraJSONDecoder`` (or any other decoder).
    public init(_ error: DecodingError) {
        func strings(_ path: [any CodingKey]) -> [String] {
            path.map { key in key.intValue.map { String($0) } ?? key.stringValue }
        }
        switch error {
        case .keyNotFound(let key, let context):
            path = strings(context.codingPath + [key])
            message = context.debugDescription
            kind = .required
            joiType = "any.required"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            path = strings(context.codingPath)
            message = context.debugDescription
            kind = .typeMismatch
            joiType = Self.joiBase(type)
        case .dataCorrupted(let context):
            path = strings(context.codingPath)
            message = context.debugDescription
            kind =
                context.underlyingError is JSONSyntaxError || context.underlyingError is JSONLimitError
                ? .invalidJSON : .invalidValue
            joiType = "any.invalid"
        @unknown default:
            path = []
            message = "\(error)"
            kind = .invalidValue
            joiType = "any.invalid"
        }
    }

    private static func joiBase(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type, is UInt.Type, is UInt8.Type,
            is UInt16.Type, is UInt32.Type, is UInt64.Type, is Double.Type, is Float.Type:
            return "number.base"
        case is String.Type: return "string.base"
        case is Bool.Type: return "boolean.base"
        case is [String: Any].Type: return "object.base"
        case is [Any].Type: return "array.base"
        default: return "any.invalid"
        }
    }
}

/// The input broke a limit set on the decoder (``HemeraJSONDecoder/maxDepth``, ``HemeraJSONDecoder/maxInputLength``).
///
/// Carried as the `underlyingError` of a `DecodingError.dataCorrupted`.
public struct JSONLimitError: Error, Sendable, CustomStringConvertible {
    /// What was exceeded.
    public var description: String
}

// MARK: - Error builders

enum _Errors {
    static func typeMismatch(
        _ type: Any.Type,
        expected: String,
        found: String,
        path: [any CodingKey]
    ) -> DecodingError {
        .typeMismatch(
            type,
            .init(codingPath: path, debugDescription: "\(_dottedPath(path)): expected \(expected), found \(found)")
        )
    }

    static func valueNotFound(_ type: Any.Type, expected: String, path: [any CodingKey]) -> DecodingError {
        .valueNotFound(
            type,
            .init(codingPath: path, debugDescription: "\(_dottedPath(path)): expected \(expected), found null")
        )
    }

    static func keyNotFound(_ key: any CodingKey, path: [any CodingKey]) -> DecodingError {
        .keyNotFound(key, .init(codingPath: path, debugDescription: "\(_dottedPath(path + [key])): is required"))
    }

    static func invalid(expected: String, found: String, path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(
            .init(codingPath: path, debugDescription: "\(_dottedPath(path)): expected \(expected), found \(found)")
        )
    }

    static func limit(_ text: String, path: [any CodingKey]) -> DecodingError {
        .dataCorrupted(
            .init(
                codingPath: path,
                debugDescription: "\(_dottedPath(path)): \(text)",
                underlyingError: JSONLimitError(description: text)
            )
        )
    }

    static func encoding(_ value: Any, _ text: String, path: [any CodingKey]) -> EncodingError {
        .invalidValue(value, .init(codingPath: path, debugDescription: "\(_dottedPath(path)): \(text)"))
    }
}
