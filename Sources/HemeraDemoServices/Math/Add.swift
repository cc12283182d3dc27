public import Hemera

/// `{topic: "math", cmd: "add", a, b}`: the sum of two integers, the seed's hello world.
///
/// Validation comes from the types: `a: "Hello"` never reaches the handler; the caller gets a
/// `ValidationError` (`a: expected a number, found the string "Hello"`).
public struct Add: HemeraPattern {
    public static let topic = "math"
    public static let cmd: String? = "add"
    public typealias Reply = Int

    public var a: Int
    public var b: Int

    public init(a: Int, b: Int) {
        self.a = a
        self.b = b
    }
}

/// Implements ``Add``.
struct AddAction: HemeraAction {
    func handle(_ request: Add, context: HemeraContext) async throws -> Int {
        let (sum, overflow) = request.a.addingReportingOverflow(request.b)
        if overflow { throw Overflow(operation: "\(request.a) + \(request.b)") }
        return sum
    }
}
