public import Hemera

/// `{topic: "products", cmd: "get", id}`: one product (the call the cart makes for each item);
/// an unknown id fails with ``NotFound``.
public struct GetProduct: HemeraPattern, HemeraValidatable {
    public static let topic = "products"
    public static let cmd: String? = "get"
    public typealias Reply = Product

    public var id: Int

    public init(id: Int) {
        self.id = id
    }

    /// Ids are integers >= 0.
    public static let rules: [ValidationRule<GetProduct>] = [.range("id", \.id, 0...Int.max)]
}

/// Implements ``GetProduct``.
struct GetProductAction: HemeraAction {
    let store: ProductStore

    func handle(_ request: GetProduct, context: HemeraContext) async throws -> Product {
        guard let product = store.product(id: request.id) else { throw NotFound(kind: "product", id: request.id) }
        return product
    }
}
