extension HemeraError.Name {
    /// `add` was given a pattern that another registration of this instance already uses
    /// (Hemera's "Pattern is already in use"); see ``AddOptions/allowsDuplicatePattern``.
    public static let patternAlreadyInUse: HemeraError.Name = "PatternAlreadyInUse"
}

extension RegisteredAction.Matcher {
    /// The same key with the same value (exact JSON equality: `1` and `1.0` differ here, as they
    /// do in the pattern's text) or the same regular expression source.
    func isSame(as other: Self) -> Bool {
        guard key == other.key else { return false }
        switch (kind, other.kind) {
        case (.equals(let a), .equals(let b)): return a == b || patternValuesEqual(a, b)
        case (.regex(let a), .regex(let b)): return a.source != nil && a.source == b.source
        default: return false
        }
    }
}

extension Hemera.State {
    /// A registration on `topic` whose keys are exactly `matchers` (both sorted by key), if any:
    /// whatever its queue group, since a request to the topic could then reach either.
    func registration(on topic: String, sameAs matchers: [RegisteredAction.Matcher]) -> RegisteredAction? {
        for (key, router) in routers where key.topic == topic {
            for action in router.all where action.matchers.count == matchers.count {
                if zip(action.matchers, matchers).allSatisfy({ $0.isSame(as: $1) }) { return action }
            }
        }
        return nil
    }
}
