public import Hemera

/// The demo's services, each runnable as its own process (`hemera-demo serve NAME`).
public enum DemoService: String, CaseIterable, Sendable, CustomStringConvertible {
    case math, users, products, cart

    public var description: String { rawValue }

    /// The service's identity in the NATS services API (`$SRV`, ADR-32): named after the service,
    /// version 1.0.0. Set it as ``HemeraOptions/service`` of the instance that serves it.
    public var serviceOptions: HemeraServiceOptions {
        let description: String
        switch self {
        case .math: description = "Integer arithmetic: add, multiply, divide"
        case .users: description = "The shop's users"
        case .products: description = "The shop's products and prices"
        case .cart: description = "The shopping cart; checks products with the products service"
        }
        return HemeraServiceOptions(name: rawValue, version: "1.0.0", description: description)
    }

    /// Registers the service's actions on `hemera`.
    public func register(on hemera: Hemera) throws {
        switch self {
        case .math: try MathService.register(on: hemera)
        case .users: try UsersService.register(on: hemera)
        case .products: try ProductsService.register(on: hemera)
        case .cart: try CartService.register(on: hemera)
        }
    }

    /// Registers `services` on `hemera` and waits until the server has the subscriptions, so a
    /// call from another connection made after this returns finds them.
    public static func start(_ services: [DemoService], on hemera: Hemera) async throws {
        for service in services { try service.register(on: hemera) }
        try await hemera.ready()
    }

    /// A cheap call that the service answers without side effects or nested calls.
    public var probe: Pattern {
        switch self {
        case .math: return ["topic": "math", "cmd": "add", "a": 0, "b": 0]
        case .users: return ["topic": "users", "cmd": "list"]
        case .products: return ["topic": "products", "cmd": "list"]
        // Any reply proves the service listens; `PatternNotFound` is a reply too.
        case .cart: return ["topic": "cart", "cmd": "ping"]
        }
    }

    /// Parses a comma-separated list (`math,users`); throws on an unknown name.
    public static func parseList(_ text: String) throws -> [DemoService] {
        try text.split(separator: ",").map { part in
            let name = String(part).trimmingSpaces
            guard let service = DemoService(rawValue: name) else {
                throw UnknownService(name: name)
            }
            return service
        }
    }
}

/// A service name that is not one of ``DemoService``.
public struct UnknownService: Error, CustomStringConvertible {
    public var name: String

    public init(name: String) { self.name = name }

    public var description: String {
        "unknown service \"\(name)\" (known: \(DemoService.allCases.map(\.rawValue).joined(separator: ", ")))"
    }
}

/// The services that did not answer within the wait.
public struct ServicesNotAnswering: Error, CustomStringConvertible {
    public var services: [DemoService]
    public var waited: Duration
    public var description: String {
        "no answer from \(services.map(\.rawValue).joined(separator: ", ")) within \(waited)"
    }
}

extension DemoService {
    /// Waits until every service in `services` answers a call (any reply, even an error reply),
    /// retrying every 100 ms for at most `timeout`.
    ///
    /// - Throws: ``ServicesNotAnswering`` naming the services still silent at the deadline.
    public static func waitUntilAnswering(
        _ services: [DemoService],
        on hemera: Hemera,
        timeout: Duration = .seconds(30)
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var waiting = services
        while true {
            var stillWaiting: [DemoService] = []
            for service in waiting where !(await service.answers(on: hemera)) {
                stillWaiting.append(service)
            }
            waiting = stillWaiting
            if waiting.isEmpty { return }
            if clock.now >= deadline { throw ServicesNotAnswering(services: waiting, waited: timeout) }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Whether the service answers its probe now.
    public func answers(on hemera: Hemera) async -> Bool {
        do {
            try await hemera.act(probe, timeout: .milliseconds(500))
            return true
        } catch let error as HemeraError {
            return ![.noResponders, .timeout, .closed].contains(error.name)
        } catch {
            return false
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while view.first == " " { view.removeFirst() }
        while view.last == " " { view.removeLast() }
        return String(view)
    }
}
