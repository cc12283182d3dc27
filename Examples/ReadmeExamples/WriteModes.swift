// README: a busy service's connection
import Hemera
import HemeraNATS

func startBusyService(url: String) async throws -> Hemera {
    var options = NATSOptions(url: url)
    // Replies to a burst of requests leave in one write; a lone reply still leaves at once.
    options.writeMode = .coalesced()
    options.maxReconnectAttempts = nil  // keep reconnecting, as Hemera.connect(url:) does
    let connection = try await NATSConnection.connect(options)
    let hemera = Hemera(
        transport: NATSTransport(connection: connection),
        options: HemeraOptions(app: "math"),
        closeTransport: true  // hemera.close() drains and closes the connection
    )
    try hemera.add(AddAction())
    try await hemera.ready(timeout: .seconds(5))
    return hemera
}
// END
