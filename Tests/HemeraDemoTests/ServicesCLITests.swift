import Foundation
import Hemera
import HemeraAppSupport
import HemeraDemoServices
import HemeraTesting
import Testing

@Suite("hemera services, describe and docs, run as subprocesses")
struct ServicesCLITests {
    @Test("services: every service with its instances and endpoints; --json")
    func services() async throws {
        try await withDemo { server, _, instances in
            let text = try await runTool("hemera", ["services", "--server", server.url])
            #expect(text.status == 0, "\(text.stderr)")
            let cartID = try #require(instances[.cart]?.serviceID)
            #expect(text.stdout.contains("cart 1.0.0  1 instance (\(cartID))"))
            #expect(text.stdout.contains("cart_addProduct  cmd:addProduct,topic:cart  subject cart, queue queue.cart"))

            let json = try await runTool("hemera", ["services", "--json", "--server", server.url])
            #expect(json.status == 0, "\(json.stderr)")
            let list = try parseJSON(json.stdout)
            #expect(list.arrayValue?.compactMap { $0["name"]?.stringValue } == ["cart", "math", "products", "users"])
            #expect(list[0]?["instances"] == [["id": .string(cartID), "version": "1.0.0"]])
            #expect(list[1]?["endpoints"]?[0]?["pattern"] == "cmd:add,topic:math")
        }
    }

    @Test("services: none answering is not an error")
    func noServices() async throws {
        try await withNATSServer { server in
            let result = try await runTool("hemera", ["services", "--timeout", "200", "--server", server.url])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("no services answered"))
        }
    }

    @Test("describe: INFO, STATS and each endpoint's schema; --json; an unknown service exits 1")
    func describe() async throws {
        try await withDemo([.math]) { server, client, _ in
            #expect(try await client.act(["topic": "math", "cmd": "add", "a": 1, "b": 2]) == 3)
            _ = try? await client.act(["topic": "math", "cmd": "divide", "a": 1, "b": 0])
            let text = try await runTool("hemera", ["describe", "math", "--server", server.url])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("math_add  cmd:add,topic:math"))
            #expect(text.stdout.contains(": 1 requests, 0 errors"))
            #expect(text.stdout.contains("last error: ValidationError: b: must not be 0"))
            #expect(text.stdout.contains("  b: integer, not `0`"))
            #expect(text.stdout.contains(#""$schema": "https://json-schema.org/draft/2020-12/schema""#))

            let json = try await runTool("hemera", ["describe", "math", "--json", "--server", server.url])
            #expect(json.status == 0, "\(json.stderr)")
            let parsed = try parseJSON(json.stdout)
            #expect(parsed["info"]?[0]?["type"] == "io.nats.micro.v1.info_response")
            #expect(parsed["stats"]?[0]?["endpoints"]?[0]?["num_requests"] == 1)

            let unknown = try await runTool(
                "hemera",
                ["describe", "nobody", "--timeout", "200", "--server", server.url]
            )
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no instance of nobody answered"))
        }
    }

    @Test("docs: the Markdown reference, as committed in docs/services.md")
    func docs() async throws {
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/services.md").path
        try await withDemo { server, _, _ in
            let output = NSTemporaryDirectory() + "hemera-docs-\(UUID().uuidString).md"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let result = try await runTool("hemera", ["docs", "--server", server.url, "--output", output])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(
                try String(contentsOfFile: output, encoding: .utf8)
                    == String(contentsOfFile: committed, encoding: .utf8)
            )
        }
    }
}
