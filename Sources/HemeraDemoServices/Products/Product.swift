import Synchronization

/// A product of the shop; prices in cents, so totals add up exactly.
public struct Product: Codable, Sendable, Equatable {
    public var id: Int
    public var name: String
    public var priceCents: Int

    public init(id: Int, name: String, priceCents: Int) {
        self.id = id
        self.name = name
        self.priceCents = priceCents
    }
}

/// The products service's data, in memory.
final class ProductStore: Sendable {
    private let products: Mutex<[Product]>

    init(_ products: [Product] = ProductStore.sample) {
        self.products = Mutex(products)
    }

    static let sample = [
        Product(id: 1, name: "NATS t-shirt", priceCents: 1999),
        Product(id: 2, name: "Hemera mug", priceCents: 899),
        Product(id: 3, name: "Swift sticker pack", priceCents: 350),
    ]

    var all: [Product] { products.withLock { $0 } }

    func product(id: Int) -> Product? { products.withLock { list in list.first { $0.id == id } } }

    /// Applies `change` to the product with `id` and returns the result, or `nil` when there is none.
    func update(id: Int, _ change: (inout Product) -> Void) -> Product? {
        products.withLock { list in
            guard let index = list.firstIndex(where: { $0.id == id }) else { return nil }
            change(&list[index])
            return list[index]
        }
    }
}
