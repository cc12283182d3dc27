// README: connecting
import Hemera
import HemeraNATS

/// A service connecting to a cluster with a user and password over TLS.
func connectInventory(servers: [String], password: String, caFile: String?) async throws -> Hemera {
    var nats = NATSOptions(servers: servers)  // e.g. ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]
    nats.name = "inventory"  // shown in the server's monitoring
    nats.authentication = .userPassword(user: "inventory", password: password)
    // or .token(…), .nkey(publicKey:seedFile:), .credentials(file: "/run/secrets/inventory.creds")
    if let caFile { nats.tls = NATSOptions.TLS(caFile: caFile) }
    nats.maxReconnectAttempts = nil  // reconnect for as long as it takes
    nats.reconnectWait = .seconds(1)
    // No server yet (the service started first)? connect waits, logging a warning once;
    // firstConnect: .failImmediately throws NATSError .noServer instead. A malformed URL throws
    // NATSError .invalidURL at once.
    return try await Hemera.connect(nats, options: HemeraOptions(app: "inventory"), firstConnect: .waitForServer)
}
// END
