public import Hemera
import HemeraAppSupport

/// The client tour of `make demo`: calls every service the way the seed's API did, prints each
/// call and its result, including a validation error and a not-found.
///
/// Each step states what it expects (a result, or an error with a given name); the tour counts
/// the steps that behaved otherwise, so `hemera-demo tour` doubles as a smoke test.
public struct Tour: Sendable {
    /// How the tour went.
    public struct Summary: Sendable, Equatable {
        public var steps: Int
        /// Steps whose outcome differed from the expected one.
        public var unexpected: [String]

        /// A summary of `steps` steps, of which `unexpected` behaved otherwise.
        public init(steps: Int, unexpected: [String]) {
            self.steps = steps
            self.unexpected = unexpected
        }
    }

    let hemera: Hemera
    let print: @Sendable (String) -> Void

    /// A tour that calls through `hemera` and writes its lines with `print`.
    public init(hemera: Hemera, print: @escaping @Sendable (String) -> Void) {
        self.hemera = hemera
        self.print = print
    }

    /// Runs every step.
    public func run() async -> Summary {
        var log = Log()

        section("math: the hello world")
        await step(&log, Add(a: 1, b: 2))
        await step(&log, "topic:math,cmd:multiply,a:6,b:7", note: "short form")
        await step(&log, Divide(a: 10, b: 4))
        await step(&log, Divide(a: 1, b: 0), expect: .validation, note: "rejected before the handler runs")
        await step(
            &log,
            ["topic": "math", "cmd": "add", "a": "Hello", "b": 2],
            expect: .validation,
            note: "the seed's example"
        )

        section("users")
        await step(&log, ListUsers())
        await step(&log, GetUser(id: 2))
        await step(&log, GetUser(id: 42), expect: .notFound, note: "an unknown id")

        section("products")
        await step(&log, ListProducts())
        await step(&log, UpdateProduct(id: 2, priceCents: 799))

        section("cart: every show calls products once per item")
        await step(&log, ClearCart())
        await step(&log, AddProduct(productId: 1, quantity: 2))
        await step(&log, AddProduct(productId: 2, quantity: 1))
        await step(&log, AddProduct(productId: 3, quantity: 6), expect: .validation, note: "quantity is 0 to 5")
        await step(&log, AddProduct(productId: -1, quantity: 1), expect: .validation, note: "productId is >= 0")
        await step(&log, AddProduct(productId: 99, quantity: 1), expect: .notFound, note: "products answers NotFound")
        await step(&log, ShowCart(), note: "nested acts to products")
        await step(&log, ClearCart())
        await step(&log, ShowCart())

        print("")
        if log.unexpected.isEmpty {
            print("tour: \(log.steps) calls, all as expected")
        } else {
            print(
                "tour: \(log.steps) calls, \(log.unexpected.count) unexpected: \(log.unexpected.joined(separator: "; "))"
            )
        }
        return Summary(steps: log.steps, unexpected: log.unexpected)
    }

    struct Log {
        var steps = 0
        var unexpected: [String] = []
    }

    private func section(_ title: String) {
        print("")
        print("== \(title)")
    }

    private func step<P: HemeraPattern>(
        _ log: inout Log,
        _ pattern: P,
        expect: HemeraError.Name? = nil,
        note: String? = nil
    ) async {
        var shown: JSONValue = .object(P.fixedKeys)
        if case .object(var members)? = try? HemeraJSONEncoder().encodeToValue(pattern) {
            for (key, value) in P.fixedKeys { members[key] = value }
            shown = .object(members)
        }
        await record(&log, shown: shown, expect: expect, note: note) {
            try HemeraJSONEncoder().encodeToValue(try await hemera.act(pattern))
        }
    }

    private func step(_ log: inout Log, _ pattern: Pattern, expect: HemeraError.Name? = nil, note: String? = nil) async
    {
        await record(&log, shown: .object(pattern.keys), expect: expect, note: note) {
            try await hemera.act(pattern)
        }
    }

    private func record(
        _ log: inout Log,
        shown: JSONValue,
        expect: HemeraError.Name?,
        note: String?,
        _ call: () async throws -> JSONValue
    ) async {
        log.steps += 1
        print("act \(JSONText.render(shown))\(note.map { "   # \($0)" } ?? "")")
        let label = JSONText.render(shown)
        do {
            let result = try await call()
            print("  => \(JSONText.render(result))")
            if let expect { log.unexpected.append("\(label): expected \(expect), got a result") }
        } catch let error as HemeraError {
            print("  => \(error.name): \(error.message)\(error.code.map { " (code \(JSONText.render($0)))" } ?? "")")
            if let details = error.details { print("     details: \(JSONText.render(details))") }
            if !error.hops.isEmpty {
                print("     hops: \(error.hops.map { "\($0.service) (\($0.method))" }.joined(separator: " -> "))")
            }
            if error.name != expect { log.unexpected.append("\(label): \(error.name): \(error.message)") }
        } catch {
            print("  => failed: \(error)")
            log.unexpected.append("\(label): \(error)")
        }
    }
}
