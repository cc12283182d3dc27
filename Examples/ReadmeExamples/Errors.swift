// README: error handling
import Hemera

/// A service error with its own name and code on the wire.
struct OutOfStock: HemeraErrorConvertible {
    var productId: Int

    var hemeraError: HemeraError {
        HemeraError(
            name: "OutOfStock",
            message: "Product \(productId) is out of stock",
            code: "E_OUT_OF_STOCK",
            details: ["productId": .integer(Int64(productId))]
        )
    }
}

struct Reserve: HemeraPattern {
    static let topic = "stock"
    static let cmd: String? = "reserve"
    typealias Reply = Bool

    var productId: Int
}

struct ReserveAction: HemeraAction {
    func handle(_ request: Reserve, context: HemeraContext) async throws -> Bool {
        if request.productId == 3 { throw OutOfStock(productId: request.productId) }
        return true
    }
}

func reserve(_ hemera: Hemera, productId: Int) async throws -> String {
    do {
        _ = try await hemera.act(Reserve(productId: productId))
        return "reserved"
    } catch let error as HemeraError where error.code == "E_OUT_OF_STOCK" {
        return "out of stock (the error passed through \(error.hops.map(\.service)))"
    } catch let error as HemeraError where error.name == .validation {
        return "invalid request: \(error.message)"
    } catch let error as HemeraError where error.name == .noResponders || error.name == .timeout {
        return "the stock service is not available"
    }
}
// END
