public import Hemera

/// `{topic: "products", cmd: "list"}`: every product.
public struct ListProducts: HemeraPattern {
    public static let topic = "products"
    public static let cmd: String? = "list"
    public typealias Reply = [Product]

    public init() {}
}

/// Implements ``ListProducts``.
struct ListProductsAction: HemeraAction {
    let store: ProductStore

    func handle(_ request: ListProducts, context: HemeraContext) async throws -> [Product] {
        store.all
    }
}
