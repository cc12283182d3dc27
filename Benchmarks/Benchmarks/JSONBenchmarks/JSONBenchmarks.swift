// HemeraJSON against Foundation's JSONEncoder/JSONDecoder, in the same run: a small Hemera
// request, a nested ~10 KiB document, and the shapes of issue 11 (JSONShapes: a request envelope
// with its trace, a ~1 KB product list, five 64-byte strings, ~64 KB of records), encode and
// decode, time and mallocs. For ratios under load, JSONRatio interleaves the two libraries.
import Benchmark
import Foundation
import HemeraJSON
import JSONShapes

struct Meta: Codable, Sendable {
    var id: String
    var timeout: Int
    var trace: [String]
}

/// A small request, as Hemera sends it: the pattern's keys and the payload in one object.
struct AddRequest: Codable, Sendable {
    var topic: String
    var cmd: String
    var a: Int
    var b: Double
    var meta: Meta
}

struct Address: Codable, Sendable {
    var street: String
    var city: String
    var zip: String
    var country: String
}

struct Item: Codable, Sendable {
    var sku: String
    var name: String
    var quantity: Int
    var price: Double
    var discount: Double?
    var tags: [String]
    var attributes: [String: String]
}

struct Order: Codable, Sendable {
    var id: String
    var customer: String
    var email: String
    var shipping: Address
    var billing: Address
    var items: [Item]
    var notes: [String]
    var paid: Bool
    var total: Double
}

let request = AddRequest(topic: "math", cmd: "add", a: 1, b: 2.5, meta: Meta(id: "7f3c2a", timeout: 2000, trace: ["svc-a"]))

let order: Order = {
    let address = Address(street: "42 Long Street", city: "Springfield", zip: "12345", country: "US")
    let items = (0..<36).map { index in
        Item(
            sku: "SKU-\(100_000 + index)", name: "Item number \(index) with a descriptive name",
            quantity: index % 7 + 1, price: Double(index) * 1.25 + 0.99, discount: index % 3 == 0 ? 0.1 : nil,
            tags: ["tag\(index % 5)", "category-\(index % 4)", "new"],
            attributes: ["color": "blue", "size": "L", "origin": "EU"])
    }
    return Order(
        id: "order-2026-000123", customer: "Ada Lovelace", email: "ada@example.com", shipping: address,
        billing: address, items: items, notes: ["leave at the door", "fragile"], paid: true, total: 1234.56)
}()

let requestBytes = try! HemeraJSONEncoder().encode(request)
let requestData = Data(requestBytes)
let orderBytes = try! HemeraJSONEncoder().encode(order)
let orderData = Data(orderBytes)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        warmupIterations: 1000,
        maxDuration: .seconds(2),
        maxIterations: 200_000,
        // Allocations per operation (one encode or decode per iteration, plus the harness's own
        // 16-18 per iteration) are checked against Thresholds/<Swift version>/ by
        // `make bench-thresholds-check`. The codecs' counts are deterministic (valgrind); the
        // harness's vary by up to 2 between runs, hence ±4.
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 4])]
    )

    Benchmark("small request: encode HemeraJSON") { benchmark in
        let encoder = HemeraJSONEncoder()
        for _ in benchmark.scaledIterations { blackHole(try encoder.encode(request)) }
    }
    Benchmark("small request: encode Foundation") { benchmark in
        let encoder = JSONEncoder()
        for _ in benchmark.scaledIterations { blackHole(try encoder.encode(request)) }
    }
    Benchmark("small request: decode HemeraJSON") { benchmark in
        let decoder = HemeraJSONDecoder()
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(AddRequest.self, from: requestBytes)) }
    }
    Benchmark("small request: decode Foundation") { benchmark in
        let decoder = JSONDecoder()
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(AddRequest.self, from: requestData)) }
    }
    Benchmark("10 KiB order: encode HemeraJSON") { benchmark in
        let encoder = HemeraJSONEncoder()
        for _ in benchmark.scaledIterations { blackHole(try encoder.encode(order)) }
    }
    Benchmark("10 KiB order: encode Foundation") { benchmark in
        let encoder = JSONEncoder()
        for _ in benchmark.scaledIterations { blackHole(try encoder.encode(order)) }
    }
    Benchmark("10 KiB order: decode HemeraJSON") { benchmark in
        let decoder = HemeraJSONDecoder()
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(Order.self, from: orderBytes)) }
    }
    Benchmark("10 KiB order: decode Foundation") { benchmark in
        let decoder = JSONDecoder()
        for _ in benchmark.scaledIterations { blackHole(try decoder.decode(Order.self, from: orderData)) }
    }
    Benchmark("flat pattern: encode merging routing keys") { benchmark in
        let encoder = HemeraJSONEncoder()
        let keys: [String: JSONValue] = ["topic": "math", "cmd": "add"]
        for _ in benchmark.scaledIterations { blackHole(try encoder.encode(request.meta, merging: keys)) }
    }
    Benchmark("small request: parse JSONValue") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try JSONValue(parsing: requestBytes)) }
    }

    // The shapes of issue 11, decode and encode, both libraries.
    func shape<T: Codable & Sendable>(_ name: String, _ type: T.Type, _ bytes: [UInt8]) {
        let data = Data(bytes)
        let value = try! JSONDecoder().decode(T.self, from: data)
        Benchmark("\(name): decode HemeraJSON") { benchmark in
            let decoder = HemeraJSONDecoder()
            for _ in benchmark.scaledIterations { blackHole(try decoder.decode(T.self, from: bytes)) }
        }
        Benchmark("\(name): decode Foundation") { benchmark in
            let decoder = JSONDecoder()
            for _ in benchmark.scaledIterations { blackHole(try decoder.decode(T.self, from: data)) }
        }
        Benchmark("\(name): encode HemeraJSON") { benchmark in
            let encoder = HemeraJSONEncoder()
            for _ in benchmark.scaledIterations { blackHole(try encoder.encode(value)) }
        }
        Benchmark("\(name): encode Foundation") { benchmark in
            let encoder = JSONEncoder()
            for _ in benchmark.scaledIterations { blackHole(try encoder.encode(value)) }
        }
    }
    shape("envelope with trace", Envelope.self, Shapes.envelopeBytes)
    shape("1 KB products", [Product].self, Shapes.json(Shapes.products))
    shape("five 64 B strings", FiveStrings.self, Shapes.json(Shapes.fiveStrings))
    shape("64 KB records", [Record].self, Shapes.json(Shapes.records))
    Benchmark("envelope with trace: parse JSONValue") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try JSONValue(parsing: Shapes.envelopeBytes)) }
    }
}
