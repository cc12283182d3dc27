import Foundation
import Hemera
import HemeraDemoGateway
import HemeraGateway
import Testing

private let python = ProcessInfo.processInfo.environment["HEMERA_INTEROP_PYTHON"]

/// Validates a document with openapi-spec-validator (PyPI) as OpenAPI 3.1; returns its verdict.
func validateOpenAPI31(_ document: [UInt8]) throws -> (valid: Bool, output: String) {
    let directory = NSTemporaryDirectory() + "hemera-openapi-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = directory + "/openapi.json"
    try Data(document).write(to: URL(fileURLWithPath: path))
    let script = """
        import json, sys
        from openapi_spec_validator import validate, OpenAPIV31SpecValidator
        with open(sys.argv[1]) as f:
            spec = json.load(f)
        try:
            validate(spec, cls=OpenAPIV31SpecValidator)
        except Exception as error:
            print("invalid:", error)
            sys.exit(1)
        print("valid OpenAPI", spec["openapi"])
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python ?? "/usr/bin/python3")
    process.arguments = ["-c", script, path]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus == 0, output)
}

@Suite(
    "OpenAPI document, validated by openapi-spec-validator",
    .enabled(if: python != nil, "set HEMERA_INTEROP_PYTHON (make test does)")
)
struct OpenAPITests {
    @Test("GET /openapi.json is a valid OpenAPI 3.1 document of every route, with the actions' request schemas")
    func documentValidates() async throws {
        try await withGateway(options: testOptions()) { env in
            let response = try await env.client.send("GET", "/openapi.json")
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            let verdict = try validateOpenAPI31(response.body)
            #expect(verdict.valid, "\(verdict.output)")
            #expect(verdict.output.contains("valid OpenAPI 3.1.0"))

            let document = try json(response)
            #expect(document["openapi"] == "3.1.0")
            let paths = try #require(document["paths"]?.objectValue)
            for (path, method) in [
                ("/cart", "get"), ("/cart", "post"), ("/cart", "delete"), ("/products", "get"),
                ("/products/{id}", "get"), ("/users", "get"), ("/users/{id}", "get"), ("/act/{topic}/{cmd}", "post"),
            ] {
                #expect(paths[path]?[method] != nil, "\(method) \(path)")
            }
            // POST /cart's body: the request schema of cart:addProduct without the fixed keys, with
            // the validation rules as JSON Schema keywords.
            let body = try #require(paths["/cart"]?["post"]?["requestBody"]?["content"]?["application/json"]?["schema"])
            #expect(body["properties"]?["topic"] == nil)
            #expect(body["properties"]?["cmd"] == nil)
            #expect(body["properties"]?["productId"]?["type"] == "integer")
            #expect(body["properties"]?["productId"]?["minimum"] == 0)
            #expect(body["properties"]?["quantity"]?["maximum"] == 5)
            let required = Set(body["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            #expect(required == ["productId", "quantity"])
            // The path parameter of /products/{id} from products:get's schema.
            let parameter = paths["/products/{id}"]?["get"]?["parameters"]?[0]
            #expect(parameter?["schema"]?["type"] == "integer")
            // Every action found is documented as its own POST /act/<topic>/<cmd>.
            #expect(paths["/act/math/divide"]?["post"] != nil)
            #expect(paths["/act/products/update"]?["post"]?["requestBody"] != nil)
            // Error statuses refer to the shared error body.
            #expect(paths["/cart"]?["post"]?["responses"]?["413"]?["$ref"] == "#/components/responses/413")
        }
    }

    @Test("the validator is real: a broken document is refused")
    func validatorRefusesBrokenDocument() throws {
        // A path parameter the path does not declare, and an operation without responses.
        let broken = #"""
            {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
             "paths": {"/a/{id}": {"get": {"parameters": [{"name": "id", "in": "query", "required": "yes"}]}}}}
            """#
        let verdict = try validateOpenAPI31(Array(broken.utf8))
        #expect(!verdict.valid, "\(verdict.output)")
    }
}
