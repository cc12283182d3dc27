import Hemera

struct Add: HemeraPattern, HemeraValidatable {
    static let topic = "math"
    static let cmd: String? = "add"
    typealias Reply = Int
    var a: Int
    var b: Int
}

struct AddAction: HemeraAction {
    func handle(_ request: Add, context: HemeraContext) async throws -> Int { request.a + request.b }
}

struct Divide: HemeraPattern, HemeraValidatable {
    static let topic = "calc"
    static let cmd: String? = "div"
    typealias Reply = Double
    var a: Double
    var b: Double
    func validate() throws(ValidationFailure) {
        if b == 0 { throw ValidationFailure(field: "b", message: "contains an invalid value", type: "any.invalid") }
    }
}

struct AddProduct: HemeraPattern, HemeraValidatable {
    static let topic = "cart"
    static let cmd: String? = "addProduct"
    typealias Reply = Int
    var productId: Int
    var quantity: Int
    var note: String?
    static let rules: [ValidationRule<AddProduct>] = [
        .range("productId", \.productId, 0...Int.max),
        .range("quantity", \.quantity, 0...5),
    ]
}

struct Count: HemeraPattern {
    static let topic = "math"
    static let cmd: String? = "count"
    typealias Reply = Int
    var n: Int
}

struct Echo: HemeraPattern {
    static let topic = "echo"
    static let cmd: String? = "echo"
    typealias Reply = JSONValue
    var value: JSONValue?
}

struct Unauthorized: HemeraErrorConvertible {
    var user: String
    var hemeraError: HemeraError {
        HemeraError(name: "Unauthorized", message: "not allowed", code: "E_AUTH", details: ["user": .string(user)])
    }
}
