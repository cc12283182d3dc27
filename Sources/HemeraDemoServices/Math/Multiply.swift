public import Hemera

/// `{topic: "math", cmd: "multiply", a, b}`: the product of two integers.
public struct Multiply: HemeraPattern {
    public static let topic = "math"
    public static let cmd: String? = "multiply"
    public typealias Reply = Int

    public var a: Int
    public var b: Int

    public init(a: Int, b: Int) {
        self.a = a
        self.b = b
    }
}

/// Implements ``Multiply``.
struct MultiplyAction: HemeraAction {
    func handle(_ request: Multiply, context: HemeraContext) async throws -> Int {
        let (product, overflow) = request.a.multipliedReportingOverflow(by: request.b)
        if overflow { throw Overflow(operation: "\(request.a) * \(request.b)") }
        return product
    }
}
