import Foundation
import Hemera
import HemeraDemoServices
import HemeraNATS
import HemeraTesting
import Testing

/// One character carrying `marks` combining acute accents: 1 character, 1 + 2 × marks bytes.
func zalgo(_ marks: Int) -> String { "e" + String(repeating: "\u{0301}", count: marks) }

/// A typed pattern with a declarative 1-to-100 character rule.
struct RenameThing: HemeraPattern, HemeraValidatable {
    typealias Reply = Int
    static let topic = "things"
    static let cmd: String? = "rename"
    var name: String
    static let rules: [ValidationRule<RenameThing>] = [.length("name", \.name, 1...100)]
}

extension Reliability {
    @Suite("Demo bounds: no trap on extreme values, limits that hold in bytes", .timeLimit(.minutes(2)))
    struct DemoBoundsTests {
        @Test("products:update refuses a price of Int64.max and a 1-character name of 200 KB; the cart keeps serving")
        func demoValidationBounds() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                try await DemoService.start([.products, .cart], on: service)
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )

                let price = await #expect(throws: HemeraError.self) {
                    try await client.act(UpdateProduct(id: 1, priceCents: Int.max))
                }
                #expect(price?.name == .validation)
                let heavy = zalgo(100_000)
                #expect(heavy.count == 1)
                let name = await #expect(throws: HemeraError.self) {
                    try await client.act(UpdateProduct(id: 2, name: heavy), timeout: .seconds(5))
                }
                #expect(name?.name == .validation)
                // Within the limits: accepted.
                let updated = try await client.act(
                    UpdateProduct(id: 3, name: "Sticker \u{1F600}", priceCents: 100_000_000)
                )
                #expect(updated.priceCents == 100_000_000)
                // The list stays small enough for every client.
                let products = try await client.act(ListProducts())
                #expect(products.allSatisfy { $0.name.utf8.count <= 400 })

                _ = try await client.act(AddProduct(productId: 3, quantity: 5))
                let cart = try await client.act(ShowCart())
                #expect(cart.totalCents == 500_000_000)
                await client.close()
                await service.close()
            }
        }

        @Test("cart:show with a product priced Int64.max answers a typed RangeError and keeps serving (no trap)")
        func showCartOverflowIsTyped() async throws {
            try await withNATSServer { server in
                // A products service that is not ours (or holds old data): its prices are not bounded.
                let products = try await connectHemera(
                    faultOptions([server.url], name: "products"),
                    options: hemeraOptions("products")
                )
                try products.add(GetProduct.self) { request, _ in
                    Product(id: request.id, name: "gold", priceCents: Int.max)
                }
                try await products.ready()
                let cart = try await connectHemera(
                    faultOptions([server.url], name: "cart"),
                    options: hemeraOptions("cart")
                )
                try await DemoService.start([.cart], on: cart)
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )
                _ = try await client.act(AddProduct(productId: 7, quantity: 2))
                let overflow = await #expect(throws: HemeraError.self) { try await client.act(ShowCart()) }
                #expect(overflow?.name == .range)
                #expect(overflow?.codeString == "E_OVERFLOW")
                // Still serving.
                let cleared = try await client.act(ClearCart())
                _ = cleared
                await client.close()
                await cart.close()
                await products.close()
            }
        }

        @Test("The length rule bounds a string's bytes too: one character with 100,000 marks fails 1...100")
        func lengthRuleBoundsBytes() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                try service.add(RenameThing.self) { request, _ in request.name.count }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )
                #expect(try await client.act(RenameThing(name: "Zoë 👩‍👩‍👧‍👦")) == 5)
                #expect(try await client.act(RenameThing(name: zalgo(30))) == 1)
                let error = await #expect(throws: HemeraError.self) {
                    try await client.act(RenameThing(name: zalgo(100_000)), timeout: .seconds(5))
                }
                #expect(error?.name == .validation)
                #expect(error?.message.contains("bytes") == true, "\(error?.message ?? "")")
                await client.close()
                await service.close()
            }
        }
    }
}
