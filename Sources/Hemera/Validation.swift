public import HemeraJSON

/// One failed check, shaped as Joi reports it in `error.details`.
public struct ValidationIssue: Sendable, Equatable {
    /// Human-readable reason, e.g. `a: expected a number, found the string "Hello"`.
    public var message: String
    /// The keys from the pattern's root to the field, e.g. `["a"]`.
    public var path: [String]
    /// Joi's error type, e.g. `number.base`, `any.required`, `number.max`.
    public var type: String

    public init(message: String, path: [String], type: String) {
        self.message = message
        self.path = path
        self.type = type
    }

    var wire: JSONValue {
        let label = path.last ?? ""
        return [
            "message": .string(message), "path": .array(path.map { .string($0) }), "type": .string(type),
            "context": ["key": .string(label), "label": .string(label)],
        ]
    }
}

/// A request that failed validation: it never reaches the handler; the caller gets a
/// `ValidationError` whose `details` lists every issue.
public struct ValidationFailure: Error, Sendable, HemeraErrorConvertible {
    public var issues: [ValidationIssue]

    public init(_ issues: [ValidationIssue]) { self.issues = issues }

    /// A single issue for `field`.
    public init(field: String, message: String, type: String = "any.invalid") {
        issues = [ValidationIssue(message: "\(field): \(message)", path: [field], type: type)]
    }

    public var hemeraError: HemeraError {
        HemeraError(
            name: .validation,
            message: issues.map(\.message).joined(separator: "; "),
            details: .array(issues.map(\.wire))
        )
    }
}

/// Declarative checks beyond types, run after decoding and before the handler.
///
/// ```swift
/// struct AddProduct: HemeraPattern, HemeraValidatable {
///     static let topic = "cart", cmd: String? = "addProduct"
///     typealias Reply = Int
///     var productId: Int, quantity: Int
///     static let rules: [ValidationRule<Self>] = [
///         .range("productId", \.productId, 0...Int.max), .range("quantity", \.quantity, 0...5),
///     ]
/// }
/// ```
public protocol HemeraValidatable {
    /// Declarative rules; listed in ``Hemera/actions`` as the action's schema.
    static var rules: [ValidationRule<Self>] { get }
    /// Extra checks in code; throw ``ValidationFailure`` to reject.
    func validate() throws(ValidationFailure)
}

extension HemeraValidatable {
    public static var rules: [ValidationRule<Self>] { [] }
    public func validate() throws(ValidationFailure) {}

    func runValidation() throws(ValidationFailure) {
        var issues: [ValidationIssue] = []
        for rule in Self.rules {
            if let issue = rule.check(self) { issues.append(issue) }
        }
        if !issues.isEmpty { throw ValidationFailure(issues) }
        try validate()
    }
}

/// One declarative check on a field of `Root`.
public struct ValidationRule<Root>: Sendable {
    /// The field's key on the wire.
    public let field: String
    /// A description for the action's schema, e.g. `{"rule":"range","min":0,"max":5}`.
    public let schema: JSONValue
    let check: @Sendable (Root) -> ValidationIssue?
    /// For a rule whose key was derived from a key path: why it could not be (``Hemera/add(_:options:handler:)``
    /// then throws), or the derived key to check against the type's coding keys.
    var derivedKey: DerivedKey? = nil

    /// Runs the check: `nil` when `value` passes.
    public func evaluate(_ value: Root) -> ValidationIssue? { check(value) }

    /// A custom rule.
    public init(field: String, schema: JSONValue, check: @escaping @Sendable (Root) -> ValidationIssue?) {
        self.field = field
        self.schema = schema
        self.check = check
    }

    /// The value must lie in `range`.
    public static func range<V: Comparable & Sendable>(
        _ field: String,
        _ keyPath: any KeyPath<Root, V> & Sendable,
        _ range: ClosedRange<V>
    ) -> Self {
        Self(
            field: field,
            schema: ["rule": "range", "min": .string("\(range.lowerBound)"), "max": .string("\(range.upperBound)")]
        ) { root in
            let value = root[keyPath: keyPath]
            if value < range.lowerBound {
                return ValidationIssue(
                    message: "\(field): must be greater than or equal to \(range.lowerBound)",
                    path: [field],
                    type: "number.min"
                )
            }
            if value > range.upperBound {
                return ValidationIssue(
                    message: "\(field): must be less than or equal to \(range.upperBound)",
                    path: [field],
                    type: "number.max"
                )
            }
            return nil
        }
    }

    /// The collection's length (characters for a string) must lie in `range`.
    ///
    /// A string is also limited to ``maxBytesPerCharacter`` bytes of UTF-8 per allowed character:
    /// one character (grapheme cluster) may carry any number of combining marks, so a character
    /// count alone does not bound its size (one character with 200,000 marks is 400 KB). Use
    /// the `maxBytes` rule for a tighter byte limit.
    public static func length<C: Collection & Sendable>(
        _ field: String,
        _ keyPath: any KeyPath<Root, C> & Sendable,
        _ range: ClosedRange<Int>
    ) -> Self {
        let isString = C.self == String.self
        let (product, overflow) = range.upperBound.multipliedReportingOverflow(by: maxBytesPerCharacter)
        let byteLimit = overflow ? Int.max : product
        return Self(
            field: field,
            schema: [
                "rule": "length", "min": .integer(Int64(range.lowerBound)), "max": .integer(Int64(range.upperBound)),
            ]
        ) { root in
            let value = root[keyPath: keyPath]
            // Checked before counting characters, which would walk all of an oversized string.
            if isString, let text = value as? String, text.utf8.count > byteLimit {
                return ValidationIssue(
                    message: "\(field): must be at most \(byteLimit) bytes",
                    path: [field],
                    type: "string.max"
                )
            }
            let count = value.count
            let kind = isString ? "string" : "array"
            if count < range.lowerBound {
                return ValidationIssue(
                    message: "\(field): length must be at least \(range.lowerBound)",
                    path: [field],
                    type: "\(kind).min"
                )
            }
            if count > range.upperBound {
                return ValidationIssue(
                    message: "\(field): length must be at most \(range.upperBound)",
                    path: [field],
                    type: "\(kind).max"
                )
            }
            return nil
        }
    }

    /// Bytes of UTF-8 a string may use per character allowed by the `length` rule: generous for
    /// any real text (the longest common emoji sequences are about 35 bytes; most characters 1 to 4).
    public static var maxBytesPerCharacter: Int { 32 }

    /// The string's UTF-8 encoding must be at most `limit` bytes.
    public static func maxBytes(_ field: String, _ keyPath: any KeyPath<Root, String> & Sendable, _ limit: Int)
        -> Self
    {
        Self(field: field, schema: ["rule": "maxBytes", "max": .integer(Int64(limit))]) { root in
            if root[keyPath: keyPath].utf8.count <= limit { return nil }
            return ValidationIssue(
                message: "\(field): must be at most \(limit) bytes",
                path: [field],
                type: "string.max"
            )
        }
    }

    /// The string must contain a match of the regular expression `source`.
    public static func pattern(_ field: String, _ keyPath: any KeyPath<Root, String> & Sendable, regex source: String)
        -> Self
    {
        let matcher: RegexMatcher? = (try? Regex(source)).map { RegexMatcher(regex: $0, source: source) }
        return Self(field: field, schema: ["rule": "pattern", "regex": .string(source)]) { root in
            let value = root[keyPath: keyPath]
            if let matcher, matcher.matches(.string(value)) { return nil }
            return ValidationIssue(
                message: "\(field): fails to match the required pattern: \(source)",
                path: [field],
                type: "string.regex.base"
            )
        }
    }

    /// The value must be one of `allowed`.
    public static func oneOf<V: Equatable & Sendable>(
        _ field: String,
        _ keyPath: any KeyPath<Root, V> & Sendable,
        _ allowed: [V]
    ) -> Self {
        Self(field: field, schema: ["rule": "oneOf", "values": .array(allowed.map { .string("\($0)") })]) { root in
            let value = root[keyPath: keyPath]
            if allowed.contains(value) { return nil }
            return ValidationIssue(
                message: "\(field): must be one of \(allowed.map { "\($0)" }.joined(separator: ", "))",
                path: [field],
                type: "any.allowOnly"
            )
        }
    }
}

/// Validation options of a typed action.
public enum ValidationMode: Sendable {
    /// Types must match exactly: `"9"` for an `Int` is an error.
    case strict
    /// Numeric strings convert to numbers and `"true"`/`"false"` to Booleans, as Joi's `convert`.
    case coerce
}

/// Decodes `T` from a received pattern: from the parsed tree by ``FlatValueDecoder`` for the
/// common shapes, else straight from its bytes when they are known (no tree conversion), else,
/// and whenever those fail, from the tree by the reference decoder, which decides what decodes
/// and how validation errors read.
func decodeValidated<T: Decodable>(_ type: T.Type, from received: ReceivedPattern, mode: ValidationMode)
    throws(ValidationFailure) -> T
{
    // The tree is there already (matching needed it); a failure is decoded again from the tree
    // below, for its issues.
    do throws(FlatValueDecoder.Refused) {
        return try FlatValueDecoder.decodeFast(
            T.self,
            tree: received.value,
            bytes: received.payload,
            range: received.range,
            convertsStrings: mode == .coerce
        )
    } catch {}
    return try decodeValidated(T.self, from: received.value, mode: mode)
}

/// Decodes `T` from a pattern, mapping decoding errors to validation issues; the one place where
/// decoding errors become messages (switch to the JSON layer's messages here).
func decodeValidated<T: Decodable>(_ type: T.Type, from pattern: JSONValue, mode: ValidationMode)
    throws(ValidationFailure) -> T
{
    var decoder = HemeraJSONDecoder()
    decoder.convertsStrings = mode == .coerce
    var current = pattern
    var attempts = 0
    while true {
        do {
            return try decoder.decode(T.self, from: current)
        } catch let error as DecodingError {
            if mode == .coerce, attempts < 64, let coerced = coerce(current, for: error) {
                current = coerced
                attempts += 1
                continue
            }
            throw ValidationFailure([issue(for: error, in: current)])
        } catch {
            throw ValidationFailure([ValidationIssue(message: "\(error)", path: [], type: "any.invalid")])
        }
    }
}

private func pathKeys(_ path: [any CodingKey]) -> [String] {
    path.map { $0.intValue.map(String.init) ?? $0.stringValue }
}

private func value(at path: [any CodingKey], in root: JSONValue) -> JSONValue? {
    var current = root
    for key in path {
        if let index = key.intValue, case .array = current {
            guard let next = current[index] else { return nil }
            current = next
        } else {
            guard let next = current[key.stringValue] else { return nil }
            current = next
        }
    }
    return current
}

private func replacing(at path: ArraySlice<any CodingKey>, in root: JSONValue, with newValue: JSONValue) -> JSONValue {
    guard let key = path.first else { return newValue }
    switch root {
    case .object(var members):
        guard let child = members[key.stringValue] else { return root }
        members[key.stringValue] = replacing(at: path.dropFirst(), in: child, with: newValue)
        return .object(members)
    case .array(var elements):
        guard let index = key.intValue, elements.indices.contains(index) else { return root }
        elements[index] = replacing(at: path.dropFirst(), in: elements[index], with: newValue)
        return .array(elements)
    default:
        return root
    }
}

private enum ExpectedKind: String {
    case number, string, boolean, array, object, value
}

private func expectedKind(_ type: Any.Type) -> ExpectedKind {
    switch type {
    case is Int.Type, is Int8.Type, is Int16.Type, is Int32.Type, is Int64.Type, is UInt.Type, is UInt8.Type,
        is UInt16.Type, is UInt32.Type, is UInt64.Type, is Double.Type, is Float.Type:
        return .number
    case is String.Type: return .string
    case is Bool.Type: return .boolean
    default:
        let name = String(describing: type)
        if name.contains("Dictionary") || name.contains("Keyed") || name.hasPrefix("[String") { return .object }
        if name.contains("Array") || name.contains("Unkeyed") || name.hasPrefix("[") { return .array }
        return .value
    }
}

private func describe(_ value: JSONValue?) -> String {
    switch value {
    case nil: return "nothing"
    case .null?: return "null"
    case .bool(let flag)?: return "the boolean \(flag)"
    case .integer(let number)?: return "the number \(number)"
    case .double(let number)?: return "the number \(formatJavaScriptNumber(number))"
    case .string(let text)?: return "the string \(String(decoding: JSONValue.string(text).hemeraBytes, as: UTF8.self))"
    case .array?: return "an array"
    case .object?: return "an object"
    }
}

private func article(_ kind: ExpectedKind) -> String {
    switch kind {
    case .array, .object: return "an \(kind.rawValue)"
    default: return "a \(kind.rawValue)"
    }
}

private func issue(for error: DecodingError, in root: JSONValue) -> ValidationIssue {
    // The JSON layer's description (`a: expected a number, found the string "Hello"`, Joi type).
    let described = JSONDecodingIssue(error)
    if described.kind != .invalidJSON, described.joiType != "any.invalid" || described.kind != .typeMismatch,
        described.message.hasPrefix(described.path.isEmpty ? "" : described.path.joined(separator: ".") + ":")
    {
        return ValidationIssue(message: described.message, path: described.path, type: described.joiType)
    }
    switch error {
    case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
        let path = pathKeys(context.codingPath)
        let kind = expectedKind(type)
        let found = describe(value(at: context.codingPath, in: root))
        return ValidationIssue(
            message: "\(path.joined(separator: ".")): expected \(article(kind)), found \(found)",
            path: path,
            type: kind == .value ? "any.invalid" : "\(kind.rawValue).base"
        )
    case .keyNotFound(let key, let context):
        let path = pathKeys(context.codingPath + [key])
        return ValidationIssue(message: "\(path.joined(separator: ".")): is required", path: path, type: "any.required")
    case .dataCorrupted(let context):
        let path = pathKeys(context.codingPath)
        let found = value(at: context.codingPath, in: root)
        if let found, found.doubleValue != nil {
            return ValidationIssue(
                message: "\(path.joined(separator: ".")): expected an integer in range, found \(describe(found))",
                path: path,
                type: "number.integer"
            )
        }
        return ValidationIssue(
            message: "\(path.joined(separator: ".")): \(context.debugDescription)",
            path: path,
            type: "any.invalid"
        )
    @unknown default:
        return ValidationIssue(message: "\(error)", path: [], type: "any.invalid")
    }
}

/// Joi-style `convert`: a numeric string where a number is expected becomes that number, and
/// `"true"`/`"false"` where a Boolean is expected become Booleans.
private func coerce(_ root: JSONValue, for error: DecodingError) -> JSONValue? {
    guard case .typeMismatch(let type, let context) = error else { return nil }
    guard case .string(let text)? = value(at: context.codingPath, in: root) else { return nil }
    let trimmed = text.trimmed
    switch expectedKind(type) {
    case .number:
        if let integer = Int64(trimmed) {
            return replacing(at: context.codingPath[...], in: root, with: .integer(integer))
        }
        if let number = Double(trimmed), number.isFinite {
            return replacing(at: context.codingPath[...], in: root, with: .double(number))
        }
        return nil
    case .boolean:
        if trimmed == "true" { return replacing(at: context.codingPath[...], in: root, with: .bool(true)) }
        if trimmed == "false" { return replacing(at: context.codingPath[...], in: root, with: .bool(false)) }
        return nil
    default:
        return nil
    }
}
