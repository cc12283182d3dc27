internal import Foundation

/// A cluster of test nats-servers with routes between them, all on 127.0.0.1.
///
/// ```swift
/// try await withNATSCluster(size: 3) { cluster in
///     let a = try await NATSConnection.connect(NATSOptions(url: cluster.servers[0].url))
///     let b = try await NATSConnection.connect(NATSOptions(url: cluster.servers[2].url))
///     ...
///     cluster.servers[0].kill()
/// }
/// ```
///
/// `@unchecked Sendable`: `servers` and `name` are immutable; each server guards its own state.
public final class NATSTestCluster: @unchecked Sendable {
    /// The servers, the first being the seed the others route to.
    public let servers: [NATSTestServer]
    /// The cluster name.
    public let name: String

    /// A cluster of `size` servers, not started yet.
    public init(size: Int, configuration: NATSServerConfiguration = NATSServerConfiguration()) {
        precondition(size >= 1)
        self.name = "hemera-cluster-\(UUID().uuidString.prefix(8).lowercased())"
        self.servers = (0..<size).map { index in
            var nodeConfiguration = configuration
            nodeConfiguration.serverName = nil
            _ = index
            return NATSTestServer(nodeConfiguration)
        }
    }

    /// All client URLs.
    public var urls: [String] { self.servers.map(\.url) }

    /// Starts the seed, then the others with a route to it, and waits until every running server
    /// has a route to every other one.
    public func start(timeout: Duration = .seconds(15)) async throws {
        let seed = self.servers[0]
        seed.clusterArguments = ["--cluster", "nats://127.0.0.1:-1", "--cluster_name", self.name]
        try await seed.start()
        guard let seedPort = seed.clusterPort else { throw NATSTestServerError("seed has no route port") }
        for server in self.servers.dropFirst() {
            server.clusterArguments = [
                "--cluster", "nats://127.0.0.1:-1", "--cluster_name", self.name,
                "--routes", "nats://127.0.0.1:\(seedPort)",
            ]
            try await server.start()
        }
        try await self.waitForRoutes(timeout: timeout)
    }

    /// Waits until every running server reports a route to every other running server (`/routez`).
    public func waitForRoutes(timeout: Duration = .seconds(15)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            let running = self.servers.filter(\.isRunning)
            let counts = running.map { (try? $0.monitor("/routez")).flatMap(routeCount) ?? -1 }
            if counts.allSatisfy({ $0 >= running.count - 1 }) { return }
            if clock.now > deadline {
                throw NATSTestServerError("routes not up in \(timeout): counts \(counts) for \(running.count) servers")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Stops every server.
    public func stop() {
        for server in self.servers { server.stop() }
    }
}

/// `num_routes` from a `/routez` body.
func routeCount(_ body: String) -> Int? {
    guard let range = body.range(of: "\"num_routes\":") else { return nil }
    let digits = body[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }
    return Int(digits)
}

/// Runs `body` with a started cluster of `size` servers and stops them afterwards, also on error.
public func withNATSCluster<Result>(
    size: Int,
    configuration: NATSServerConfiguration = NATSServerConfiguration(),
    _ body: (NATSTestCluster) async throws -> Result
) async throws -> Result {
    let cluster = NATSTestCluster(size: size, configuration: configuration)
    defer { cluster.stop() }
    try await cluster.start()
    return try await body(cluster)
}
