import Foundation
import Hemera
import HemeraAppSupport
import HemeraDemoServices
import HemeraTesting
import Testing

/// The interop virtualenv's Python, with nats-py and jsonschema (`make interop-venv`; `make test`
/// sets the variable).
private let interopPython = ProcessInfo.processInfo.environment["HEMERA_INTEROP_PYTHON"]

/// The ADR-32 reply schemas, as the NATS tooling publishes them: the project's shared copy beside
/// the checkout (`../shared/micro-schemas`, as laid out for developers and CI), or
/// `HEMERA_MICRO_SCHEMAS`. They are not copied into this repository.
private let microSchemas =
    ProcessInfo.processInfo.environment["HEMERA_MICRO_SCHEMAS"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/micro-schemas").path

/// A real services client and validator: nats-py sends `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`,
/// collects every reply for half a second and validates each against the ADR-32 schema files with
/// `jsonschema`; then checks every endpoint's `request_schema` is a valid draft 2020-12 schema and
/// judges the sample requests (a JSON file of `{"endpoint", "request"}`) with it.
/// Prints one JSON object.
private let servicesClientScript = #"""
    import asyncio, json, sys
    import nats
    from jsonschema import Draft7Validator, Draft202012Validator

    async def collect(nc, subject, wait):
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(subject, b"", reply=inbox)
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        replies = []
        while True:
            remaining = end - loop.time()
            if remaining <= 0:
                break
            try:
                msg = await sub.next_msg(timeout=remaining)
            except nats.errors.TimeoutError:
                break
            replies.append(json.loads(msg.data))
        await sub.unsubscribe()
        return replies

    async def main():
        url, schemas_dir, samples_path = sys.argv[1], sys.argv[2], sys.argv[3]
        nc = await nats.connect(url)
        out = {}
        files = {"PING": "ping_response.json", "INFO": "info_response.json", "STATS": "stats_response.json"}
        infos = []
        for verb, name in files.items():
            with open(schemas_dir + "/" + name) as f:
                validator = Draft7Validator(json.load(f))
            replies = await collect(nc, "$SRV." + verb, 0.5)
            if verb == "INFO":
                infos = replies
            errors = [verb + " " + str(r.get("name")) + ": " + e.message for r in replies for e in validator.iter_errors(r)]
            out[verb] = {"names": sorted(r.get("name") for r in replies), "errors": errors}
        schemas = {}
        for info in infos:
            for endpoint in info.get("endpoints") or []:
                schema = json.loads(endpoint["metadata"]["request_schema"])
                Draft202012Validator.check_schema(schema)
                schemas[endpoint["name"]] = schema
        out["endpoints"] = sorted(schemas)
        verdicts = []
        if samples_path != "-":
            with open(samples_path) as f:
                samples = json.load(f)
            for sample in samples:
                verdicts.append(Draft202012Validator(schemas[sample["endpoint"]]).is_valid(sample["request"]))
        out["verdicts"] = verdicts
        print(json.dumps(out), flush=True)
        await nc.drain()

    asyncio.run(main())
    """#

/// Runs the services client against `url` and returns what it printed, parsed. The process is
/// waited for on a thread of its own: blocking one of the cooperative pool's threads (two on this
/// machine) would stall every other test's tasks.
private func runServicesClient(
    url: String,
    samples: [(endpoint: String, request: JSONValue)]
) async throws -> JSONValue {
    let box = SamplesBox(samples)
    return try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do {
                continuation.resume(returning: try runServicesClientBlocking(url: url, samples: box.samples))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// The samples, handed to the waiting thread.
private struct SamplesBox: Sendable {
    let samples: [(endpoint: String, request: JSONValue)]
    init(_ samples: [(endpoint: String, request: JSONValue)]) { self.samples = samples }
}

private func runServicesClientBlocking(url: String, samples: [(endpoint: String, request: JSONValue)]) throws
    -> JSONValue
{
    let samplesPath = NSTemporaryDirectory() + "hemera-samples-\(UUID().uuidString).json"
    let file: JSONValue = .array(samples.map { ["endpoint": .string($0.endpoint), "request": $0.request] })
    try JSONText.render(file).write(toFile: samplesPath, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: samplesPath) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: interopPython!)
    process.arguments = ["-c", servicesClientScript, url, microSchemas, samplesPath]
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("services client exited \(process.terminationStatus): \(errorText)")
    }
    return try JSONValue(parsing: Array(data))
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Requests at every rule's boundary for each demo action: (endpoint, request).
let boundarySamples: [(endpoint: String, request: JSONValue)] = {
    var samples: [(String, JSONValue)] = []
    func add(_ endpoint: String, _ base: [String: JSONValue], _ variants: [[String: JSONValue?]]) {
        for variant in variants {
            var request = base
            for (key, value) in variant { request[key] = value ?? nil }
            for (key, value) in variant where value == nil { request[key] = nil }
            samples.append((endpoint, .object(request)))
        }
    }
    let int64Max: JSONValue = .integer(Int64.max)
    for cmd in ["add", "multiply"] {
        add(
            "math_\(cmd)",
            ["topic": "math", "cmd": .string(cmd), "a": 1, "b": 2],
            [
                [:], ["a": "Hello"], ["a": nil], ["b": nil], ["a": 1.5], ["a": .bool(true)], ["a": .null],
                ["a": int64Max, "b": 0], ["a": .integer(Int64.min), "b": 0], ["c": "extra"], ["a": "1"],
            ]
        )
    }
    add(
        "math_divide",
        ["topic": "math", "cmd": "divide", "a": 1, "b": 2],
        [[:], ["b": 0], ["b": 1], ["b": -1], ["b": "Hello"], ["b": nil], ["b": 0.5]]
    )
    for (service, endpoint) in [("users", "users_get"), ("products", "products_get")] {
        add(
            endpoint,
            ["topic": .string(service), "cmd": "get", "id": 1],
            [["id": -1], ["id": 0], ["id": 1], ["id": int64Max], ["id": "1"], ["id": nil], ["id": 2.5]]
        )
    }
    add("users_list", ["topic": "users", "cmd": "list"], [[:], ["page": 2]])
    add("products_list", ["topic": "products", "cmd": "list"], [[:]])
    let long = String(repeating: "n", count: 100)
    add(
        "products_update",
        ["topic": "products", "cmd": "update", "id": 1],
        [
            [:], ["id": -1], ["name": ""], ["name": "x"], ["name": .string(long)], ["name": .string(long + "n")],
            ["name": .null], ["name": 5], ["priceCents": -1], ["priceCents": 0], ["priceCents": .null],
            ["priceCents": "5"], ["priceCents": 1.5], ["id": nil],
        ]
    )
    add(
        "cart_addProduct",
        ["topic": "cart", "cmd": "addProduct", "productId": 1, "quantity": 1],
        [
            ["quantity": 5], ["quantity": 6], ["quantity": 0], ["quantity": -1], ["productId": -1],
            ["productId": 0], ["quantity": "5"], ["quantity": nil], ["productId": nil], ["quantity": 2.5],
        ]
    )
    add("cart_show", ["topic": "cart", "cmd": "show"], [[:]])
    add("cart_clear", ["topic": "cart", "cmd": "clear"], [[:]])
    return samples
}()

@Suite("The demo services in the NATS services API")
struct ServicesAPITests {
    @Test(.enabled(if: interopPython != nil, "set HEMERA_INTEROP_PYTHON (make test does)"))
    func repliesValidateAgainstTheADR32SchemasForARealClient() async throws {
        try await withDemo { server, client, _ in
            let output = try await runServicesClient(url: server.url, samples: [])
            for verb in ["PING", "INFO", "STATS"] {
                #expect(output[verb]?["names"] == ["cart", "math", "products", "users"], "\(verb)")
                #expect(output[verb]?["errors"] == [], "\(verb)")
            }
            #expect(
                output["endpoints"] == [
                    "cart_addProduct", "cart_clear", "cart_show", "math_add", "math_divide", "math_multiply",
                    "products_get", "products_list", "products_update", "users_get", "users_list",
                ]
            )
            _ = client
        }
    }

    @Test(.enabled(if: interopPython != nil, "set HEMERA_INTEROP_PYTHON (make test does)"))
    func schemaAndServiceJudgeEveryBoundarySampleAlike() async throws {
        try await withDemo { server, client, _ in
            let output = try await runServicesClient(url: server.url, samples: boundarySamples)
            let verdicts = try #require(output["verdicts"]?.arrayValue)
            #expect(verdicts.count == boundarySamples.count)
            var accepted = 0
            for (sample, verdict) in zip(boundarySamples, verdicts) {
                let pattern = try Pattern(json: sample.request)
                let service: Bool
                do {
                    try await client.act(pattern)
                    service = true
                } catch let error as HemeraError where error.name == .validation {
                    service = false
                } catch let error as HemeraError {
                    // Accepted by validation, refused by the handler (an unknown id): still accepted.
                    #expect(error.name != .patternNotFound && error.name != .timeout, "\(sample.request): \(error)")
                    service = true
                }
                if service { accepted += 1 }
                #expect(
                    verdict == .bool(service),
                    "\(sample.endpoint) \(JSONText.render(sample.request)): jsonschema \(verdict), service \(service)"
                )
            }
            // Both verdicts occur: the samples sit on both sides of each boundary.
            #expect(accepted > 10 && accepted < boundarySamples.count - 10)
        }
    }

    @Test func theDemoServicesListTheirEndpointsWithSchemas() async throws {
        try await withDemo { _, client, _ in
            let infos = try await client.serviceInfos(timeout: .milliseconds(500))
            #expect(infos.map(\.name).sorted() == ["cart", "math", "products", "users"])
            #expect(infos.allSatisfy { $0.version == "1.0.0" })
            let cart = try #require(infos.first { $0.name == "cart" })
            let add = try #require(cart.endpoints?.first { $0.name == "cart_addProduct" })
            #expect(add.subject == "cart")
            #expect(add.queueGroup == "queue.cart")
            #expect(add.metadata?["pattern_short"] == "cmd:addProduct,topic:cart")
            let schema = try #require(add.requestSchema)
            #expect(schema["properties"]?["quantity"] == ["type": "integer", "minimum": 0, "maximum": 5])
            #expect(
                schema["properties"]?["productId"]
                    == ["type": "integer", "minimum": 0, "maximum": .integer(Int64.max)]
            )
            #expect(schema["properties"]?["topic"] == ["const": "cart"])
            #expect(schema["required"] == ["topic", "cmd", "productId", "quantity"])
            let divide = try #require(infos.first { $0.name == "math" }?.endpoints?.first { $0.name == "math_divide" })
            #expect(divide.requestSchema?["properties"]?["b"]?["not"] == ["enum": [0]])
        }
    }

    /// docs/services.md is what `hemera docs` writes for the demo services now. After an intended
    /// change, rewrite it: `HEMERA_UPDATE_DOCS=1 swift test --filter ServicesAPITests`.
    @Test func theCommittedServiceReferenceIsCurrent() async throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/services.md").path
        try await withDemo { _, client, _ in
            let infos = try await client.serviceInfos(timeout: .milliseconds(500))
            #expect(infos.count == 4)
            let markdown = ServicesReference.markdown(infos)
            if ProcessInfo.processInfo.environment["HEMERA_UPDATE_DOCS"] == "1" {
                try markdown.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let committed = try String(contentsOfFile: path, encoding: .utf8)
            #expect(
                committed == markdown,
                "docs/services.md is stale: HEMERA_UPDATE_DOCS=1 swift test --filter ServicesAPITests rewrites it"
            )
            // Every example request in the reference passes validation at the running service.
            for info in infos {
                for endpoint in info.endpoints ?? [] {
                    let example = ServicesReference.example(try #require(endpoint.requestSchema))
                    #expect(committed.contains(JSONText.render(example)))
                    do {
                        try await client.act(try Pattern(json: example))
                    } catch let error as HemeraError {
                        #expect(error.name != .validation, "\(endpoint.name): \(error)")
                    }
                }
            }
        }
    }
}
