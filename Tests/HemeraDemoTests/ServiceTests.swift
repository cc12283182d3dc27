import Hemera
import HemeraDemoServices
import HemeraTesting
import Synchronization
import Testing

/// Records the requests a service instance receives.
final class RequestRecorder: HemeraServerInterceptor {
    private let contexts = Mutex<[HemeraContext]>([])

    func onRequest(_ context: HemeraContext) async throws {
        contexts.withLock { $0.append(context) }
    }

    var all: [HemeraContext] { contexts.withLock { $0 } }

    func requests(cmd: String) -> [HemeraContext] { all.filter { $0.pattern["cmd"]?.stringValue == cmd } }
}

@Suite("Demo services against a real nats-server")
struct ServiceTests {
    @Test("math: add, multiply, divide")
    func math() async throws {
        try await withDemo([.math]) { _, client, _ async throws in
            #expect(try await client.act(Add(a: 1, b: 2)) == 3)
            #expect(try await client.act(Multiply(a: 6, b: 7)) == 42)
            #expect(try await client.act(Divide(a: 10, b: 4)) == 2.5)
            #expect(try await client.act("topic:math,cmd:add,a:40,b:2") == 42)
            #expect(try await client.act(["topic": "math", "cmd": "multiply", "a": -3, "b": 3]) == -9)
        }
    }

    @Test("math: divide by 0 is a ValidationError with details")
    func divideByZero() async throws {
        try await withDemo([.math]) { _, client, _ async throws in
            let error = try #require(await expectHemeraError { try await client.act(Divide(a: 1, b: 0)) })
            #expect(error.name == .validation)
            let detail = try #require(error.details?[0])
            #expect(detail["path"] == ["b"])
            #expect(detail["type"] == "any.invalid")
            #expect(detail["message"]?.stringValue?.contains("must not be 0") == true)
            #expect(error.hops.first?.service == "math")
        }
    }

    @Test("math: the seed's example, a: \"Hello\", never reaches the handler")
    func helloIsNotANumber() async throws {
        try await withDemo([.math]) { _, client, _ async throws in
            let error = try #require(
                await expectHemeraError {
                    try await client.act(["topic": "math", "cmd": "add", "a": "Hello", "b": 2])
                }
            )
            #expect(error.name == .validation)
            #expect(error.details?[0]?["path"] == ["a"])
            #expect(error.details?[0]?["type"] == "number.base")
        }
    }

    @Test("math: overflow is an error reply, not a crash")
    func overflow() async throws {
        try await withDemo([.math]) { _, client, _ async throws in
            let error = try #require(await expectHemeraError { try await client.act(Add(a: Int.max, b: 1)) })
            #expect(error.name == .range)
            #expect(try await client.act(Add(a: 1, b: 1)) == 2)
        }
    }

    @Test("users: list, get, and an unknown id is NotFound with a code")
    func users() async throws {
        try await withDemo([.users]) { _, client, _ async throws in
            let users = try await client.act(ListUsers())
            #expect(users.count == 3)
            #expect(try await client.act(GetUser(id: 2)).name == "Grace Hopper")
            let error = try #require(await expectHemeraError { try await client.act(GetUser(id: 42)) })
            #expect(error.name == .notFound)
            #expect(error.code == .string(NotFound.code))
            #expect(error.codeString == "E_NOT_FOUND")
            #expect(error.extra["statusCode"] == 404)
            #expect(error.hops.map(\.service) == ["users"])
        }
    }

    @Test("products: list, get, update, update of an unknown id")
    func products() async throws {
        try await withDemo([.products]) { _, client, _ async throws in
            #expect(try await client.act(ListProducts()).map(\.id) == [1, 2, 3])
            let updated = try await client.act(UpdateProduct(id: 2, name: "Big mug", priceCents: 1099))
            #expect(updated == Product(id: 2, name: "Big mug", priceCents: 1099))
            #expect(try await client.act(GetProduct(id: 2)) == updated)
            let missing = try #require(
                await expectHemeraError { try await client.act(UpdateProduct(id: 9, priceCents: 1)) }
            )
            #expect(missing.name == .notFound)
            let negative = try #require(
                await expectHemeraError { try await client.act(UpdateProduct(id: 1, priceCents: -5)) }
            )
            #expect(negative.name == .validation)
            #expect(negative.details?[0]?["path"] == ["priceCents"])
        }
    }

    @Test("cart: addProduct rejects quantity 6 and productId -1 (the seed's schema)")
    func addProductValidation() async throws {
        try await withDemo([.products, .cart]) { _, client, _ async throws in
            let tooMany = try #require(
                await expectHemeraError { try await client.act(AddProduct(productId: 1, quantity: 6)) }
            )
            #expect(tooMany.name == .validation)
            #expect(tooMany.details?[0]?["path"] == ["quantity"])
            #expect(tooMany.details?[0]?["type"] == "number.max")

            let negative = try #require(
                await expectHemeraError { try await client.act(AddProduct(productId: -1, quantity: 1)) }
            )
            #expect(negative.name == .validation)
            #expect(negative.details?[0]?["path"] == ["productId"])
            #expect(negative.details?[0]?["type"] == "number.min")

            let fractional = try #require(
                await expectHemeraError {
                    try await client.act(["topic": "cart", "cmd": "addProduct", "productId": 1, "quantity": 2.5])
                }
            )
            #expect(fractional.name == .validation)

            #expect(
                try await client.act(AddProduct(productId: 1, quantity: 0)) == [CartLine(productId: 1, quantity: 0)]
            )
            #expect(
                try await client.act(AddProduct(productId: 1, quantity: 5)) == [CartLine(productId: 1, quantity: 5)]
            )
        }
    }

    @Test("cart: an unknown product is the products service's NotFound, through both hops")
    func addUnknownProduct() async throws {
        try await withDemo([.products, .cart]) { _, client, _ async throws in
            let error = try #require(
                await expectHemeraError { try await client.act(AddProduct(productId: 99, quantity: 1)) }
            )
            #expect(error.name == .notFound)
            #expect(error.codeString == NotFound.code)
            #expect(error.hops.map(\.service) == ["products", "cart"])
            #expect(try await client.act(ShowCart()).items.isEmpty)
        }
    }

    @Test("cart: show fetches each product from products by nested acts and totals")
    func showDoesNestedActs() async throws {
        let recorder = RequestRecorder()
        try await withDemo(
            [.products, .cart],
            serviceOptions: { service in
                quietOptions(app: service.rawValue, serverInterceptors: service == .products ? [recorder] : [])
            }
        ) { _, client, _ async throws in
            _ = try await client.act(AddProduct(productId: 1, quantity: 2))
            _ = try await client.act(AddProduct(productId: 3, quantity: 4))
            _ = try await client.act(AddProduct(productId: 1, quantity: 1))
            // Prices change in products; show must fetch them, not remember them.
            _ = try await client.act(UpdateProduct(id: 3, priceCents: 400))
            let before = recorder.requests(cmd: "get").count

            let view = try await client.act(ShowCart(), meta: ["user": "ada"])
            #expect(view.items.map(\.product.id) == [1, 3])
            #expect(view.items.map(\.quantity) == [3, 4])
            #expect(view.items[0].product == Product(id: 1, name: "NATS t-shirt", priceCents: 1999))
            #expect(view.items[1].product.priceCents == 400)
            #expect(view.items.map(\.subtotalCents) == [3 * 1999, 4 * 400])
            #expect(view.totalCents == 3 * 1999 + 4 * 400)

            let nested = Array(recorder.requests(cmd: "get").dropFirst(before))
            #expect(nested.count == 2)
            #expect(Set(nested.compactMap { $0.pattern["id"]?.integerValue }) == [1, 3])
            for context in nested {
                // Children of the cart's request: same trace, a parent span, the caller's meta.
                #expect(context.trace.parentSpanId != nil)
                #expect(context.meta["user"] == "ada")
            }
            #expect(Set(nested.map(\.trace.traceId)).count == 1)
        }
    }

    @Test("cart: clear empties the cart")
    func clear() async throws {
        try await withDemo([.products, .cart]) { _, client, _ async throws in
            _ = try await client.act(AddProduct(productId: 2, quantity: 1))
            _ = try await client.act(AddProduct(productId: 3, quantity: 1))
            #expect(try await client.act(ClearCart()) == ClearResult(removedLines: 2))
            let view = try await client.act(ShowCart())
            #expect(view.items.isEmpty)
            #expect(view.totalCents == 0)
            #expect(try await client.act(ClearCart()) == ClearResult(removedLines: 0))
        }
    }

    @Test("the tour runs every call as expected")
    func tour() async throws {
        try await withDemo { _, client, _ async throws in
            let lines = Mutex<[String]>([])
            let summary = await Tour(hemera: client) { line in lines.withLock { $0.append(line) } }.run()
            #expect(summary.unexpected == [])
            #expect(summary.steps >= 15)
            let output = lines.withLock { $0.joined(separator: "\n") }
            #expect(output.contains("ValidationError"))
            #expect(output.contains("NotFound"))
            #expect(output.contains("\"totalCents\":4797"))
        }
    }

    @Test("waiting for services: returns once they answer, gives up after the bound")
    func waitForServices() async throws {
        try await withDemo([.math]) { _, client, _ async throws in
            try await DemoService.waitUntilAnswering([.math], on: client, timeout: .seconds(5))
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: ServicesNotAnswering.self) {
                try await DemoService.waitUntilAnswering([.math, .users], on: client, timeout: .milliseconds(500))
            }
            // Gives up near its 500 ms bound, never waits on (scaled for sanitizer runs).
            #expect(clock.now - start < Duration.seconds(3).scaledForTests)
        }
    }
}
