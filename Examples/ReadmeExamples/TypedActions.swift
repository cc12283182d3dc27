// The README's examples: every declaration between `// README` markers appears verbatim in
// docs/api.md (checked by HemeraDemoTests), so the README's code compiles.
import Hemera

// README: typed pattern and named handler
/// `{topic: "math", cmd: "add", a, b}`: the routing keys, the payload and the reply type.
struct Add: HemeraPattern {
    static let topic = "math"
    static let cmd: String? = "add"
    typealias Reply = Int

    var a: Int
    var b: Int
}

/// The implementation, next to the pattern (the seed's "named handler").
struct AddAction: HemeraAction {
    func handle(_ request: Add, context: HemeraContext) async throws -> Int {
        request.a + request.b
    }
}

func serveAndCallAdd(_ hemera: Hemera) async throws -> Int {
    try hemera.add(AddAction())  // the service side
    return try await hemera.act(Add(a: 1, b: 2))  // anywhere else: 3
}
// END

// README: validation rules
/// The seed's cart schema: `productId` an integer >= 0, `quantity` an integer from 0 to 5.
/// Types are checked when decoding (`quantity: "two"` never reaches the handler), the rules after.
struct AddToCart: HemeraPattern, HemeraValidatable {
    static let topic = "cart"
    static let cmd: String? = "addProduct"
    typealias Reply = Int

    var productId: Int
    var quantity: Int

    static let rules: [ValidationRule<AddToCart>] = [
        .range("productId", \.productId, 0...Int.max),
        .range("quantity", \.quantity, 0...5),
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
