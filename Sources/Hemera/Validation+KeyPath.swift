import HemeraJSON

/// How a rule's key was derived from its key path (see ``ValidationRule/range(_:_:)``).
struct DerivedKey: Sendable {
    /// The key path's text, e.g. `\AddToCart.quantity`.
    var keyPath: String
    /// Why no key could be derived, if it could not.
    var problem: String?
}

extension ValidationRule {
    /// The wire key of a stored property named by `keyPath`: its name (`\.quantity` → `quantity`).
    ///
    /// Swift prints a key path as `\Root.property`; a key path through a computed property or into
    /// a nested value has no single key, and a property that `CodingKeys` renames has another key
    /// on the wire: ``Hemera/add(_:options:handler:)`` throws for all three. Give the key yourself
    /// for those (`.range("product_id", \.productId, 0...Int.max)`).
    static func key<V>(of keyPath: KeyPath<Root, V>) -> (String, DerivedKey) {
        let text = String(describing: keyPath)
        let prefix = "\\" + String(describing: Root.self) + "."
        guard text.hasPrefix(prefix) else {
            return (
                "", DerivedKey(keyPath: text, problem: "the key path's text does not name a property of \(Root.self)")
            )
        }
        let name = String(text.dropFirst(prefix.count))
        let isIdentifier =
            !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && !name.first!.isNumber
        guard isIdentifier else {
            return (
                name,
                DerivedKey(keyPath: text, problem: "\(text) is not a stored property of \(Root.self) itself")
            )
        }
        return (name, DerivedKey(keyPath: text, problem: nil))
    }

    private func derived(_ key: DerivedKey) -> Self {
        var rule = self
        rule.derivedKey = key
        return rule
    }

    /// The value must lie in `range`; the key is the property's name.
    ///
    /// ```swift
    /// static let rules: [ValidationRule<AddToCart>] = [.range(\.quantity, 0...5)]
    /// ```
    public static func range<V: Comparable & Sendable>(
        _ keyPath: any KeyPath<Root, V> & Sendable,
        _ range: ClosedRange<V>
    ) -> Self {
        let (field, derived) = key(of: keyPath)
        return Self.range(field, keyPath, range).derived(derived)
    }

    /// The collection's length (characters for a string) must lie in `range`; the key is the
    /// property's name: `.length(\.name, 1...40)` (Joi's `string.min`/`string.max`,
    /// `array.min`/`array.max`).
    public static func length<C: Collection & Sendable>(
        _ keyPath: any KeyPath<Root, C> & Sendable,
        _ range: ClosedRange<Int>
    ) -> Self {
        let (field, derived) = key(of: keyPath)
        return Self.length(field, keyPath, range).derived(derived)
    }

    /// The string must contain a match of the regular expression `source`; the key is the
    /// property's name: `.pattern(\.sku, regex: "^[0-9]{3}$")` (Joi's `string.regex.base`).
    public static func pattern(_ keyPath: any KeyPath<Root, String> & Sendable, regex source: String) -> Self {
        let (field, derived) = key(of: keyPath)
        return Self.pattern(field, keyPath, regex: source).derived(derived)
    }

    /// The value must be one of `allowed`; the key is the property's name:
    /// `.oneOf(\.color, ["red", "green"])` (Joi's `any.allowOnly`).
    public static func oneOf<V: Equatable & Sendable>(_ keyPath: any KeyPath<Root, V> & Sendable, _ allowed: [V])
        -> Self
    {
        let (field, derived) = key(of: keyPath)
        return Self.oneOf(field, keyPath, allowed).derived(derived)
    }
}

extension Hemera {
    /// Throws when a rule of `P` named by a key path has no key, or a key that `P` does not decode.
    static func checkRuleKeys<P: HemeraEvent>(of type: P.Type) throws {
        guard let validatable = P.self as? any HemeraValidatable.Type else { return }
        let problems = validatable.derivedKeyProblems(fields: SchemaProbe.fields(of: P.self).objectValue ?? [:])
        if let problem = problems.first {
            throw HemeraError(
                name: .invalidPattern,
                message: "A validation rule of \(P.self): \(problem)",
                details: .array(problems.map { .string($0) })
            )
        }
    }
}

extension HemeraValidatable {
    /// Why rules named by key paths cannot be checked: no key, or a key the type's `Decodable`
    /// conformance does not read (`fields`: the keys it reads, empty when unknown).
    static func derivedKeyProblems(fields: [String: JSONValue]) -> [String] {
        rules.compactMap { rule in
            guard let derived = rule.derivedKey else { return nil }
            if let problem = derived.problem {
                return "\(problem); give the key: .rule(\"key\", \(derived.keyPath), …)"
            }
            if !fields.isEmpty, fields[rule.field] == nil {
                return
                    "\(derived.keyPath) is decoded from another key than \"\(rule.field)\" (CodingKeys?); give the key: .rule(\"key\", \(derived.keyPath), …)"
            }
            return nil
        }
    }
}
