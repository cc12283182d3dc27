public import Hemera

/// `{topic: "cart", cmd: "clear"}`: empties the cart.
public struct ClearCart: HemeraPattern {
    public static let topic = "cart"
    public static let cmd: String? = "clear"
    public typealias Reply = ClearResult

    public init() {}
}

/// The reply of ``ClearCart``.
public struct ClearResult: Codable, Sendable, Equatable {
    /// How many lines the cart held.
    public var removedLines: Int

    public init(removedLines: Int) {
        self.removedLines = removedLines
    }
}

/// Implements ``ClearCart``.
struct ClearCartAction: HemeraAction {
    let store: CartStore

    func handle(_ request: ClearCart, context: HemeraContext) async throws -> ClearResult {
        ClearResult(removedLines: store.clear())
    }
}
