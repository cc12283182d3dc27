import Hemera
import HemeraTesting

/// `{topic: "prices", cmd: "quote", sku}`: a price in cents.
struct Quote: HemeraPattern, HemeraValidatable {
    static let topic = "prices"
    static let cmd: String? = "quote"
    typealias Reply = Int
    var sku: String
    static let rules: [ValidationRule<Quote>] = [.length("sku", \.sku, 1...16)]
}

/// `{topic: "orders", cmd: "total", sku, quantity}`: asks `prices` (a nested act, a child span).
struct Total: HemeraPattern, HemeraValidatable {
    static let topic = "orders"
    static let cmd: String? = "total"
    typealias Reply = Int
    var sku: String
    var quantity: Int
    static let rules: [ValidationRule<Total>] = [.range("quantity", \.quantity, 1...10)]
}

/// Starts a nats-server of its own (when `url` is `nil`), two services and a client, and makes
/// `calls` acts: most succeed, every tenth fails validation. Create this after bootstrapping the
/// metrics and tracing backends: a Hemera instance picks them up when it is created.
public func runObservedShop(url: String?, calls: Int) async throws {
    let server = NATSTestServer()
    let natsURL: String
    if let url {
        natsURL = url
    } else {
        try await server.start()
        natsURL = server.url
    }
    defer { server.stop() }

    func options(_ name: String) -> HemeraOptions {
        var options = HemeraOptions(app: name)
        options.service = HemeraServiceOptions(name: name, version: "1.0.0")
        return options
    }
    let prices = try await Hemera.connect(url: natsURL, options: options("prices"))
    try prices.add(Quote.self) { quote, _ in 100 + quote.sku.utf8.count }
    let orders = try await Hemera.connect(url: natsURL, options: options("orders"))
    try orders.add(Total.self) { total, context in
        let price = try await context.hemera.act(Quote(sku: total.sku))
        return price * total.quantity
    }
    try await prices.ready()
    try await orders.ready()
    let client = try await Hemera.connect(url: natsURL, options: options("shop-client"))
    var failures = 0
    for index in 0..<calls {
        do {
            _ = try await client.act(Total(sku: "sku-\(index % 3)", quantity: index % 10 == 9 ? 99 : 2))
        } catch {
            failures += 1
        }
    }
    print("made \(calls) acts, \(failures) refused by validation")
    await client.close()
    await orders.close()
    await prices.close()
}
