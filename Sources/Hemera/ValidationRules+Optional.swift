// Rules on optional fields: an absent (or `null`) value passes; a present one is checked as the
// non-optional rule checks it. The same rule description, so the request schema documents them
// (with `null` allowed).

extension ValidationRule {
    /// When present, the value must lie in `range`.
    ///
    /// ```swift
    /// .range("priceCents", \.priceCents, 0...Int.max)   // priceCents: Int?
    /// ```
    public static func range<V: Comparable & Sendable>(
        _ field: String,
        _ keyPath: any KeyPath<Root, V?> & Sendable,
        _ range: ClosedRange<V>
    ) -> Self {
        let present = ValidationRule<V>.range(field, \V.self, range)
        return Self(field: field, schema: present.schema) { root in
            root[keyPath: keyPath].flatMap { present.evaluate($0) }
        }
    }

    /// When present, the collection's length (characters for a string) must lie in `range`.
    public static func length<C: Collection & Sendable>(
        _ field: String,
        _ keyPath: any KeyPath<Root, C?> & Sendable,
        _ range: ClosedRange<Int>
    ) -> Self {
        let present = ValidationRule<C>.length(field, \C.self, range)
        return Self(field: field, schema: present.schema) { root in
            root[keyPath: keyPath].flatMap { present.evaluate($0) }
        }
    }

    /// When present, the string must contain a match of the regular expression `source`.
    public static func pattern(_ field: String, _ keyPath: any KeyPath<Root, String?> & Sendable, regex source: String)
        -> Self
    {
        let present = ValidationRule<String>.pattern(field, \String.self, regex: source)
        return Self(field: field, schema: present.schema) { root in
            root[keyPath: keyPath].flatMap { present.evaluate($0) }
        }
    }

    /// When present, the value must be one of `allowed`.
    public static func oneOf<V: Equatable & Sendable>(
        _ field: String,
        _ keyPath: any KeyPath<Root, V?> & Sendable,
        _ allowed: [V]
    ) -> Self {
        let present = ValidationRule<V>.oneOf(field, \V.self, allowed)
        return Self(field: field, schema: present.schema) { root in
            root[keyPath: keyPath].flatMap { present.evaluate($0) }
        }
    }
}
