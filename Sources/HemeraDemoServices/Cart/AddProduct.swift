public import Hemera

/// `{topic: "cart", cmd: "addProduct", productId, quantity}`, with the seed's schema:
/// `productId` an integer >= 0, `quantity` an integer from 0 to 5. Checks with `products` that the
/// product exists (an unknown one fails with the products service's ``NotFound``) and returns the
/// cart's lines.
public struct AddProduct: HemeraPattern, HemeraValidatable {
    public static let topic = "cart"
    public static let cmd: String? = "addProduct"
    public typealias Reply = [CartLine]

    public var productId: Int
    public var quantity: Int

    public init(productId: Int, quantity: Int) {
        self.productId = productId
        self.quantity = quantity
    }

    /// The seed's Joi schema: `productId: Joi.number().integer().min(0)`,
    /// `quantity: Joi.number().integer().min(0).max(5)`.
    public static let rules: [ValidationRule<AddProduct>] = [
        .range("productId", \.productId, 0...Int.max),
        .range("quantity", \.quantity, 0...5),
    ]
}

/// Implements ``AddProduct``.
struct AddProductAction: HemeraAction {
    let store: CartStore

    func handle(_ request: AddProduct, context: HemeraContext) async throws -> [CartLine] {
        // A nested act through the instance handling this request: inherits its meta and trace id.
        _ = try await context.hemera.act(GetProduct(id: request.productId))
        return store.add(productId: request.productId, quantity: request.quantity)
    }
}
