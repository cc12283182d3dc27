public import Hemera

/// `{topic: "math", cmd: "divide", a, b}`: `a / b` as a number; `b: 0` is rejected with a
/// `ValidationError` before the handler runs (Joi's `number().invalid(0)`).
public struct Divide: HemeraPattern, HemeraValidatable {
    public static let topic = "math"
    public static let cmd: String? = "divide"
    public typealias Reply = Double

    public var a: Int
    public var b: Int

    public init(a: Int, b: Int) {
        self.a = a
        self.b = b
    }

    /// `b` must not be 0.
    public static let rules: [ValidationRule<Divide>] = [
        ValidationRule(field: "b", schema: ["rule": "invalid", "values": [0]]) { request in
            guard request.b == 0 else { return nil }
            return ValidationIssue(message: "b: must not be 0 (division by zero)", path: ["b"], type: "any.invalid")
        }
    ]
}

/// Implements ``Divide``; `b` is never 0 here.
struct DivideAction: HemeraAction {
    func handle(_ request: Divide, context: HemeraContext) async throws -> Double {
        Double(request.a) / Double(request.b)
    }
}
