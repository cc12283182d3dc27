// README: validation rules
import Hemera

/// The seed's cart schema: `productId` an integer >= 0, `quantity` an integer from 0 to 5.
/// Other rules: `.length(\.name, 1...40)`, `.pattern(\.sku, regex: "^[0-9]{3}$")`,
/// `.oneOf(\.color, ["red", "green"])`; `.range("product_id", \.productId, …)` when CodingKeys
/// renames the property.
/// Types are checked when decoding (`quantity: "two"` never reaches the handler), the rules after.
struct AddToCart: HemeraPattern, HemeraValidatable {
    static let topic = "cart"
    static let cmd: String? = "addProduct"
    typealias Reply = Int

    var productId: Int
    var quantity: Int

    static let rules: [ValidationRule<AddToCart>] = [
        .range(\.productId, 0...Int.max),  // the key is the property's name: "productId"
        .range(\.quantity, 0...5),
    ]
}

func rejectQuantitySix(_ hemera: Hemera) async throws -> JSONValue? {
    try hemera.add(AddToCart.self) { request, _ in request.quantity }
    do {
        _ = try await hemera.act(AddToCart(productId: 1, quantity: 6))
        return nil
    } catch let error as HemeraError where error.name == .validation {
        // [{"message": "quantity: must be less than or equal to 5", "path": ["quantity"], "type": "number.max", …}]
        return error.details
    }
}
// END
