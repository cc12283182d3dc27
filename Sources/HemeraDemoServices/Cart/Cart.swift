import Synchronization

/// One line of the cart as stored: a product id and a quantity.
public struct CartLine: Codable, Sendable, Equatable {
    public var productId: Int
    public var quantity: Int

    public init(productId: Int, quantity: Int) {
        self.productId = productId
        self.quantity = quantity
    }
}

/// One line of the cart as shown: the product's details (fetched from `products`), the quantity
/// and the line's subtotal.
public struct CartItem: Codable, Sendable, Equatable {
    public var product: Product
    public var quantity: Int
    public var subtotalCents: Int

    public init(product: Product, quantity: Int, subtotalCents: Int) {
        self.product = product
        self.quantity = quantity
        self.subtotalCents = subtotalCents
    }
}

/// The cart as shown: its items and the total.
public struct CartView: Codable, Sendable, Equatable {
    public var items: [CartItem]
    public var totalCents: Int

    public init(items: [CartItem], totalCents: Int) {
        self.items = items
        self.totalCents = totalCents
    }
}

/// The cart service's data: one cart, in memory (the seed's demo had one cart too).
final class CartStore: Sendable {
    private let lines = Mutex<[CartLine]>([])

    var all: [CartLine] { lines.withLock { $0 } }

    /// Adds `quantity` of a product; a product already in the cart gets its quantity increased.
    func add(productId: Int, quantity: Int) -> [CartLine] {
        lines.withLock { lines in
            if let index = lines.firstIndex(where: { $0.productId == productId }) {
                // Saturates instead of trapping (quantities are at most 5 per call).
                let (sum, overflow) = lines[index].quantity.addingReportingOverflow(quantity)
                lines[index].quantity = overflow ? .max : sum
            } else {
                lines.append(CartLine(productId: productId, quantity: quantity))
            }
            return lines
        }
    }

    /// Empties the cart; returns how many lines it held.
    func clear() -> Int {
        lines.withLock { lines in
            defer { lines.removeAll() }
            return lines.count
        }
    }
}
