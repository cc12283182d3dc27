public import Hemera

/// `{topic: "products", cmd: "update", id, name?, priceCents?}`: changes the given fields and
/// returns the updated product; an unknown id fails with ``NotFound``.
public struct UpdateProduct: HemeraPattern, HemeraValidatable {
    public static let topic = "products"
    public static let cmd: String? = "update"
    public typealias Reply = Product

    public var id: Int
    public var name: String?
    public var priceCents: Int?

    public init(id: Int, name: String? = nil, priceCents: Int? = nil) {
        self.id = id
        self.name = name
        self.priceCents = priceCents
    }

    /// Ids are integers >= 0; the optional fields, when present: a name of 1 to 100 characters, a
    /// price >= 0.
    public static let rules: [ValidationRule<UpdateProduct>] = [
        .range("id", \.id, 0...Int.max),
        .length("name", \.name, 1...100),
        .range("priceCents", \.priceCents, 0...Int.max),
    ]
}

/// Implements ``UpdateProduct``.
struct UpdateProductAction: HemeraAction {
    let store: ProductStore

    func handle(_ request: UpdateProduct, context: HemeraContext) async throws -> Product {
        let updated = store.update(id: request.id) { product in
            if let name = request.name { product.name = name }
            if let priceCents = request.priceCents { product.priceCents = priceCents }
        }
        guard let updated else { throw NotFound(kind: "product", id: request.id) }
        return updated
    }
}
