// README: a test against a real nats-server
import Hemera
import HemeraTesting
import Testing

@Suite struct InventoryTests {
    /// Starts its own nats-server on a free port of 127.0.0.1, a service and a client.
    @Test func countsStock() async throws {
        try await withNATSServer { server in
            let service = try await Hemera.connect(url: server.url, options: HemeraOptions(app: "inventory"))
            try service.add(CountStock.self) { request, _ in request.sku == "001" ? 12 : 0 }
            try await service.ready()  // the subscriptions reached the server

            let client = try await Hemera.connect(url: server.url)
            #expect(try await client.act(CountStock(sku: "001")) == 12)
            await client.close()
            await service.close()
        }
    }
}
// END
