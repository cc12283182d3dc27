public import Hemera

/// `{topic: "cart", cmd: "show"}`: the cart's items, each with the product's details fetched
/// from `products` by a nested act (all at once), and the total.
public struct ShowCart: HemeraPattern {
    public static let topic = "cart"
    public static let cmd: String? = "show"
    public typealias Reply = CartView

    public init() {}
}

/// Implements ``ShowCart``.
struct ShowCartAction: HemeraAction {
    let store: CartStore

    func handle(_ request: ShowCart, context: HemeraContext) async throws -> CartView {
        let lines = store.all
        let hemera = context.hemera
        let products = try await withThrowingTaskGroup(of: (Int, Product).self) { group in
            for (index, line) in lines.enumerated() {
                // Child tasks inherit the handler's context: each act is a child span of this request.
                group.addTask { (index, try await hemera.act(GetProduct(id: line.productId))) }
            }
            var products = [Product?](repeating: nil, count: lines.count)
            for try await (index, product) in group { products[index] = product }
            return products
        }
        var items: [CartItem] = []
        var total = 0
        for (line, product) in zip(lines, products) {
            guard let product else { continue }
            // Checked: a price or quantity from elsewhere (another products service, old data) must
            // give a typed error, never trap and take the cart service down.
            let (subtotal, productOverflow) = product.priceCents.multipliedReportingOverflow(by: line.quantity)
            if productOverflow { throw Overflow(operation: "the subtotal of product \(product.id)") }
            let (sum, sumOverflow) = total.addingReportingOverflow(subtotal)
            if sumOverflow { throw Overflow(operation: "the cart total") }
            items.append(CartItem(product: product, quantity: line.quantity, subtotalCents: subtotal))
            total = sum
        }
        return CartView(items: items, totalCents: total)
    }
}
