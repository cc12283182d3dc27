import Hemera

/// A NATS transport on a new connection to the test's server.
func makeNATSTransport(url: String) async throws -> any HemeraTransport {
    try await NATSTransport.connect(url: url)
}
