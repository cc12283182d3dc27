public import HemeraJSON

// The JSON Schema (draft 2020-12) of an action's request, derived from its Codable request type
// and its declarative validation rules. Published in the `request_schema` metadata of the
// action's endpoint in the NATS services API (`$SRV.INFO`), printed by `hemera describe` and
// rendered by `hemera docs`.

extension HemeraPattern {
    /// The JSON Schema (draft 2020-12) of this pattern as a request: the fixed routing keys as
    /// `const`, every payload property with its type (`integer` and `number` apart, with the bounds
    /// of the Swift integer type), whether it is required, and the declarative
    /// ``HemeraValidatable/rules`` as keywords (`minimum`, `maximum`, `minLength`, `maxLength`,
    /// `minItems`, `maxItems`, `pattern`, `enum`, `not`).
    ///
    /// Checks written in code (``HemeraValidatable/validate()``) cannot be seen and are not in the
    /// schema; write them as rules to have them documented. String lengths are counted in
    /// characters by Swift and in code points by JSON Schema: they agree on text without combining
    /// sequences.
    ///
    /// ```swift
    /// let schema = AddProduct.requestSchema
    /// // {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
    /// //  "properties": {"topic": {"const": "cart"}, "cmd": {"const": "addProduct"},
    /// //                 "quantity": {"type": "integer", "minimum": 0, "maximum": 5}, …}, …}
    /// ```
    public static var requestSchema: JSONValue { requestSchema(validation: .strict) }

    /// ``requestSchema`` for an action registered with the given validation mode: with
    /// ``ValidationMode/coerce`` numbers and Booleans may also be sent as strings.
    public static func requestSchema(validation: ValidationMode) -> JSONValue {
        RequestSchemaBuilder.schema(of: Self.self, validation: validation)
    }
}

/// Where `$schema` points: JSON Schema draft 2020-12.
let jsonSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

enum RequestSchemaBuilder {
    static func schema<P: HemeraPattern>(of type: P.Type, validation: ValidationMode) -> JSONValue {
        let root = SchemaNode()
        root.kind = .object
        _ = try? P(from: SchemaProbeDecoder(node: root, depth: 0))
        if case .object(let rules)? = (P.self as? any HemeraValidatable.Type)?.ruleSchemas {
            for (field, list) in rules {
                guard let node = root.property(field), case .array(let schemas) = list else { continue }
                for schema in schemas { node.apply(rule: schema) }
            }
        }
        var json = root.json(coerce: validation == .coerce)
        var properties = json["properties"]?.objectValue ?? [:]
        var required = json["required"]?.arrayValue ?? []
        let fixed = P.fixedKeys
        for key in fixed.keys.sorted(by: fixedKeyOrder).reversed() {
            properties[key] = ["const": fixed[key]!]
            required.removeAll { $0 == .string(key) }
            required.insert(.string(key), at: 0)
        }
        json["properties"] = .object(properties)
        json["required"] = .array(required)
        return finish(json, title: String(describing: P.self))
    }

    /// The schema of an untyped action: its fixed keys as `const`, its regular-expression matchers
    /// as `pattern`; any other property is allowed and unknown.
    static func schema(fixedKeys: [String: JSONValue], regexes: [(key: String, source: String?)]) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        var required: [JSONValue] = []
        for key in fixedKeys.keys.sorted(by: fixedKeyOrder) {
            guard let value = fixedKeys[key] else { continue }
            if case .object = value { continue }  // object-valued keys never take part in matching
            properties[key] = ["const": value]
            required.append(.string(key))
        }
        for (key, source) in regexes.sorted(by: { $0.key < $1.key }) {
            properties[key] = source.map { ["type": "string", "pattern": .string($0)] } ?? ["type": "string"]
            required.append(.string(key))
        }
        return finish(["type": "object", "properties": .object(properties), "required": .array(required)], title: nil)
    }

    private static func finish(_ json: JSONValue, title: String?) -> JSONValue {
        guard case .object(var members) = json else { return json }
        members["$schema"] = .string(jsonSchemaDialect)
        if let title { members["title"] = .string(title) }
        return .object(members)
    }

    /// `topic` first, then `cmd`, then the other keys sorted.
    static func fixedKeyOrder(_ lhs: String, _ rhs: String) -> Bool {
        func rank(_ key: String) -> Int { key == "topic" ? 0 : key == "cmd" ? 1 : 2 }
        return rank(lhs) != rank(rhs) ? rank(lhs) < rank(rhs) : lhs < rhs
    }
}

/// What the probe learned about one value: its JSON type, and for objects and arrays what they
/// hold. A class: containers fill in their parent's node as decoding goes.
final class SchemaNode {
    enum Kind {
        /// Nothing known (a `JSONValue`, or a type the probe could not enter).
        case any
        case boolean, string, number, object, array
        /// An integer within these bounds (those of the Swift type).
        case integer(minimum: Int64?, maximum: Int64?)
    }

    var kind: Kind = .any
    var nullable = false
    /// Object properties in the order they were decoded.
    var properties: [(key: String, node: SchemaNode)] = []
    var required: [String] = []
    /// Array elements.
    var items: SchemaNode?
    /// Values of a `[String: Value]` dictionary.
    var additional: SchemaNode?
    /// The allowed values (a `CaseIterable` enumeration's raw values).
    var enumeration: [JSONValue]?
    /// Keywords from validation rules, applied over the type's own.
    var keywords: [String: JSONValue] = [:]
    /// Rules that have no JSON Schema keyword: kept as an annotation (`x-hemera-rules`).
    var otherRules: [JSONValue] = []
    /// A `[String: Value]` dictionary: its keyed container offers one key standing for all.
    var isMap = false

    func property(_ key: String) -> SchemaNode? { properties.first { $0.key == key }?.node }

    func addProperty(_ key: String, required isRequired: Bool) -> SchemaNode {
        if isMap {
            let node = additional ?? SchemaNode()
            additional = node
            return node
        }
        if let existing = property(key) {
            if isRequired, !required.contains(key) { required.append(key) }
            return existing
        }
        let node = SchemaNode()
        properties.append((key, node))
        if isRequired { required.append(key) }
        return node
    }

    /// The JSON type name, if known.
    var typeName: String? {
        switch kind {
        case .any: return nil
        case .boolean: return "boolean"
        case .string: return "string"
        case .number: return "number"
        case .integer: return "integer"
        case .object: return "object"
        case .array: return "array"
        }
    }

    /// Turns one declarative rule (``ValidationRule/schema``) into JSON Schema keywords.
    func apply(rule: JSONValue) {
        if case .object(let custom)? = rule["jsonSchema"] {
            for (key, value) in custom { keywords[key] = value }
            return
        }
        switch rule["rule"]?.stringValue {
        case "range":
            guard let low = rule["min"].flatMap(numberValue), let high = rule["max"].flatMap(numberValue) else {
                otherRules.append(rule)
                return
            }
            switch kind {
            case .integer, .number:
                keywords["minimum"] = low
                keywords["maximum"] = high
            default:
                otherRules.append(rule)
            }
        case "length":
            let low = rule["min"] ?? .integer(0)
            let high = rule["max"]
            switch kind {
            case .string:
                keywords["minLength"] = low
                if let high { keywords["maxLength"] = high }
            case .array:
                keywords["minItems"] = low
                if let high { keywords["maxItems"] = high }
            case .object:
                keywords["minProperties"] = low
                if let high { keywords["maxProperties"] = high }
            default:
                otherRules.append(rule)
            }
        case "pattern":
            guard let source = rule["regex"]?.stringValue, case .string = kind else {
                otherRules.append(rule)
                return
            }
            keywords["pattern"] = .string(source)
        case "oneOf":
            guard let values = rule["values"]?.arrayValue else {
                otherRules.append(rule)
                return
            }
            let typed = values.compactMap(typedValue)
            guard typed.count == values.count else {
                otherRules.append(rule)
                return
            }
            keywords["enum"] = .array(typed + (nullable ? [.null] : []))
        case "invalid":
            guard let values = rule["values"]?.arrayValue else {
                otherRules.append(rule)
                return
            }
            keywords["not"] = ["enum": .array(values.compactMap(typedValue))]
        default:
            otherRules.append(rule)
        }
    }

    /// A rule's bound (written as text by ``ValidationRule/range(_:_:_:)``) as a JSON number.
    private func numberValue(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .integer, .double: return value
        case .string(let text):
            if let integer = Int64(text) { return .integer(integer) }
            if let number = Double(text), number.isFinite {
                if case .integer = kind, number == number.rounded(), abs(number) < 9.2e18 {
                    return .integer(Int64(number))
                }
                return .double(number)
            }
            return nil
        default: return nil
        }
    }

    /// A rule's value (written as text by ``ValidationRule/oneOf(_:_:_:)``) in this node's type.
    private func typedValue(_ value: JSONValue) -> JSONValue? {
        guard case .string(let text) = value else { return value }
        switch kind {
        case .integer: return Int64(text).map(JSONValue.integer)
        case .number: return numberValue(value)
        case .boolean: return text == "true" ? .bool(true) : text == "false" ? .bool(false) : nil
        default: return value
        }
    }

    func json(coerce: Bool) -> JSONValue {
        var members: [String: JSONValue] = [:]
        if let name = typeName {
            var types: [JSONValue] = [.string(name)]
            if coerce, case .integer = kind { types.append("string") }
            if coerce, case .number = kind { types.append("string") }
            if coerce, case .boolean = kind { types.append("string") }
            if nullable { types.append("null") }
            members["type"] = types.count == 1 ? types[0] : .array(types)
        }
        if case .integer(let minimum, let maximum) = kind {
            if let minimum { members["minimum"] = .integer(minimum) }
            if let maximum { members["maximum"] = .integer(maximum) }
        }
        if case .object = kind, !isMap {
            var properties: [String: JSONValue] = [:]
            for (key, node) in self.properties { properties[key] = node.json(coerce: coerce) }
            members["properties"] = .object(properties)
            members["required"] = .array(required.map { .string($0) })
        }
        if let additional { members["additionalProperties"] = additional.json(coerce: coerce) }
        if case .array = kind, let items { members["items"] = items.json(coerce: coerce) }
        if let enumeration { members["enum"] = .array(enumeration + (nullable ? [.null] : [])) }
        for (key, value) in keywords { members[key] = value }
        if !otherRules.isEmpty { members["x-hemera-rules"] = .array(otherRules) }
        return .object(members)
    }
}

/// A decoder that decodes a type from nothing, recording every key asked for, with its type and
/// whether it is required, into a ``SchemaNode``; values are placeholders (`0`, `""`, `false`, the
/// first case of an enumeration, one element per array). Types whose `init(from:)` rejects the
/// placeholders are described as far as the probe got.
struct SchemaProbeDecoder: Decoder {
    struct GiveUp: Error {}

    let node: SchemaNode
    let depth: Int
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Recursive types stop here.
    static let maxDepth = 12

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if case .any = node.kind { node.kind = .object }
        return KeyedDecodingContainer(Keyed<Key>(node: node, depth: depth))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        node.kind = .array
        return Unkeyed(node: node, depth: depth)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        Single(node: node, depth: depth)
    }

    /// Describes `T` into `node` and returns a placeholder value of it, if the type accepts one.
    static func probe<T: Decodable>(_ type: T.Type, into node: SchemaNode, depth: Int) throws -> T {
        if let value = primitive(T.self, into: node) { return value }
        if let cases = T.self as? any (CaseIterable & RawRepresentable).Type, let value = enumeration(cases, into: node)
        {
            if let value = value as? T { return value }
        }
        if T.self == JSONValue.self {
            node.kind = .any
            return JSONValue.null as! T  // T is JSONValue
        }
        guard depth < maxDepth else { throw GiveUp() }
        if String(reflecting: T.self).hasPrefix("Swift.Dictionary<Swift.String, ") {
            node.kind = .object
            node.isMap = true
        }
        return try T(from: SchemaProbeDecoder(node: node, depth: depth + 1))
    }

    /// The raw values of a `CaseIterable` enumeration as `enum`, and its first case.
    private static func enumeration<E: CaseIterable & RawRepresentable>(_ type: E.Type, into node: SchemaNode) -> Any? {
        var values: [JSONValue] = []
        for value in E.allCases {
            switch value.rawValue {
            case let text as String:
                node.kind = .string
                values.append(.string(text))
            case let number as Int:
                node.kind = .integer(minimum: nil, maximum: nil)
                values.append(.integer(Int64(number)))
            default:
                return nil
            }
        }
        node.enumeration = values
        return E.allCases.first
    }

    /// Primitive types by identity: the JSON type, the integer bounds, a placeholder.
    private static func primitive<T>(_ type: T.Type, into node: SchemaNode) -> T? {
        func integer<I: FixedWidthInteger>(_ type: I.Type) -> T? {
            let maximum: Int64? = I.bitWidth >= 64 && !I.isSigned ? nil : Int64(truncatingIfNeeded: I.max)
            node.kind = .integer(minimum: Int64(I.min), maximum: I.bitWidth > 64 ? nil : maximum)
            return (I.zero as Any) as? T
        }
        switch type {
        case is Int.Type: return integer(Int.self)
        case is Int8.Type: return integer(Int8.self)
        case is Int16.Type: return integer(Int16.self)
        case is Int32.Type: return integer(Int32.self)
        case is Int64.Type: return integer(Int64.self)
        case is UInt.Type: return integer(UInt.self)
        case is UInt8.Type: return integer(UInt8.self)
        case is UInt16.Type: return integer(UInt16.self)
        case is UInt32.Type: return integer(UInt32.self)
        case is UInt64.Type: return integer(UInt64.self)
        case is Double.Type:
            node.kind = .number
            return (0.0 as Double) as? T
        case is Float.Type:
            node.kind = .number
            return (0.0 as Float) as? T
        case is String.Type:
            node.kind = .string
            return "" as? T
        case is Bool.Type:
            node.kind = .boolean
            return false as? T
        default:
            return nil
        }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let node: SchemaNode
        let depth: Int
        var codingPath: [any CodingKey] { [] }
        /// A dictionary's one key standing for all of them; a struct's are not listed.
        var allKeys: [Key] { node.isMap ? Key(stringValue: "*").map { [$0] } ?? [] : [] }
        func contains(_ key: Key) -> Bool { true }

        func decodeNil(forKey key: Key) throws -> Bool {
            node.addProperty(key.stringValue, required: false).nullable = true
            if let index = node.required.firstIndex(of: key.stringValue) { node.required.remove(at: index) }
            return false
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let child = node.addProperty(key.stringValue, required: true)
            return try SchemaProbeDecoder.probe(T.self, into: child, depth: depth)
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { optional(T.self, key) }

        // The primitive overloads: their default implementations would ask `decodeNil` and then
        // `decode`, which records the key as required.
        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { optional(Bool.self, key) }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { optional(String.self, key) }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { optional(Double.self, key) }
        func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { optional(Float.self, key) }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { optional(Int.self, key) }
        func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { optional(Int8.self, key) }
        func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { optional(Int16.self, key) }
        func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { optional(Int32.self, key) }
        func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { optional(Int64.self, key) }
        func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { optional(UInt.self, key) }
        func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { optional(UInt8.self, key) }
        func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { optional(UInt16.self, key) }
        func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { optional(UInt32.self, key) }
        func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { optional(UInt64.self, key) }

        private func optional<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
            let child = node.addProperty(key.stringValue, required: false)
            child.nullable = true
            _ = try? SchemaProbeDecoder.probe(T.self, into: child, depth: depth)
            return nil
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            let child = node.addProperty(key.stringValue, required: true)
            child.kind = .object
            return KeyedDecodingContainer(Keyed<NestedKey>(node: child, depth: depth + 1))
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            let child = node.addProperty(key.stringValue, required: true)
            child.kind = .array
            return Unkeyed(node: child, depth: depth + 1)
        }

        func superDecoder() throws -> any Decoder { SchemaProbeDecoder(node: node, depth: depth) }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            SchemaProbeDecoder(node: node.addProperty(key.stringValue, required: true), depth: depth + 1)
        }
    }

    /// An array of one placeholder element, which describes the elements.
    struct Unkeyed: UnkeyedDecodingContainer {
        let node: SchemaNode
        let depth: Int
        var codingPath: [any CodingKey] { [] }
        var count: Int? { 1 }
        var currentIndex = 0
        var isAtEnd: Bool { currentIndex >= 1 }

        init(node: SchemaNode, depth: Int) {
            self.node = node
            self.depth = depth
        }

        private var element: SchemaNode {
            let element = node.items ?? SchemaNode()
            node.items = element
            return element
        }

        mutating func decodeNil() throws -> Bool {
            element.nullable = true
            return false
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let value = try SchemaProbeDecoder.probe(T.self, into: element, depth: depth)
            currentIndex += 1
            return value
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
            -> KeyedDecodingContainer<NestedKey>
        {
            currentIndex += 1
            let element = self.element
            element.kind = .object
            return KeyedDecodingContainer(Keyed<NestedKey>(node: element, depth: depth + 1))
        }

        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            currentIndex += 1
            let element = self.element
            element.kind = .array
            return Unkeyed(node: element, depth: depth + 1)
        }

        mutating func superDecoder() throws -> any Decoder {
            currentIndex += 1
            return SchemaProbeDecoder(node: element, depth: depth + 1)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let node: SchemaNode
        let depth: Int
        var codingPath: [any CodingKey] { [] }

        func decodeNil() -> Bool {
            node.nullable = true
            return false
        }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try SchemaProbeDecoder.probe(T.self, into: node, depth: depth)
        }
    }
}

// MARK: - Canonical JSON text

/// Compact JSON text with object keys sorted, so the same value always reads the same (endpoint
/// metadata, generated documentation).
func sortedJSONText(_ value: JSONValue) -> String {
    var writer = JSONWriter(capacity: 256)
    writeSorted(value, into: &writer)
    return String(decoding: writer.bytes, as: UTF8.self)
}

private func writeSorted(_ value: JSONValue, into writer: inout JSONWriter) {
    switch value {
    case .object(let members):
        writer.raw("{")
        for (index, key) in members.keys.sorted().enumerated() {
            if index > 0 { writer.raw(",") }
            writer.key(key)
            writeSorted(members[key]!, into: &writer)
        }
        writer.raw("}")
    case .array(let elements):
        writer.raw("[")
        for (index, element) in elements.enumerated() {
            if index > 0 { writer.raw(",") }
            writeSorted(element, into: &writer)
        }
        writer.raw("]")
    default:
        writer.value(value)
    }
}
