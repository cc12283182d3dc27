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

    /// The largest name, in characters (grapheme clusters).
    public static let maxNameCharacters = 100
    /// The largest name in bytes of UTF-8: a character may carry any number of combining marks, so
    /// a character count alone does not bound the size (one character with 200,000 marks is 400 KB).
    public static let maxNameBytes = 400
    /// The highest price: 100,000,000 cents (one million). Cart totals stay far from overflow.
    public static let maxPriceCents = 100_000_000

    /// Ids are integers >= 0; the optional fields, when present: a name of 1 to 100 characters and
    /// at most 400 bytes, a price from 0 to ``maxPriceCents``.
    public static let rules: [ValidationRule<UpdateProduct>] = [
        .range("id", \.id, 0...Int.max),
        .length("name", \.name, 1...maxNameCharacters),
        .maxBytes("name", \.name, maxNameBytes),
        .range("priceCents", \.priceCents, 0...maxPriceCents),
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
