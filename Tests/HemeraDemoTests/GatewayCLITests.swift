import Foundation
import Hemera
import HemeraDemoGateway
import HemeraDemoServices
import HemeraTesting
import Testing

@Suite("hemera-demo serve gateway")
struct GatewayCLITests {
    @Test("serves the HTTP API on 127.0.0.1, the tour calls it, and SIGTERM closes it gracefully")
    func serveGateway() async throws {
        try await withDemo { server, _, _ async throws in
            let serve = try Tool("hemera-demo", ["serve", "gateway", "--server", server.url, "--port", "0"])
            #expect(try await serve.waitForOutput("serving gateway on http://127.0.0.1:"), "\(serve.stderr)")
            let port = try #require(
                serve.stdout.split(separator: "\n").first { $0.hasPrefix("serving gateway on") }
                    .flatMap { line in line.split(separator: ":").dropFirst(2).first?.prefix { $0.isNumber } }
            )
            let baseURL = "http://127.0.0.1:\(port)"
            let client = GatewayClient(baseURL: baseURL)
            let product = try await client.send("GET", "/products/1")
            #expect(product.status == 200, "\(product.text)")
            #expect(try JSONValue(parsing: product.body)["id"] == 1)
            try await client.shutdown()

            let tour = try await runTool(
                "hemera-demo",
                ["tour", "--server", server.url, "--wait-for", "math,users,products,cart", "--gateway", baseURL]
            )
            #expect(tour.status == 0, "\(tour.stdout)\n\(tour.stderr)")
            #expect(tour.stdout.contains("calls, all as expected"))
            #expect(tour.stdout.contains("HTTP tour: 16 requests, all as expected"))
            #expect(tour.stdout.contains("POST /cart {\"productId\": 3, \"quantity\": 1}"))
            #expect(tour.stdout.contains("traceresponse: 00-4bf92f3577b34da6a3ce929d0e0e4736-"))

            kill(serve.pid, SIGTERM)
            let result = await serve.wait(timeout: .seconds(20))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("closed"))
        }
    }

    @Test("a port in use is a clear error, exit 5")
    func portInUse() async throws {
        try await withNATSServer { server in
            // The nats-server's own port is taken on 127.0.0.1.
            let result = try await runTool(
                "hemera-demo",
                ["serve", "gateway", "--server", server.url, "--port", "\(server.port)"],
                timeout: .seconds(30)
            )
            #expect(result.status == 5, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stderr.contains("cannot serve on 127.0.0.1:\(server.port)"))
        }
    }
}
