public import HemeraDemoServices

/// The tour through the gateway: the article's HTTP API called with a real HTTP client, each
/// request and response printed, including the error statuses.
///
/// Each step states the status it expects; the steps that answer otherwise are counted, so
/// `hemera-demo tour --gateway URL` doubles as a smoke test of the gateway.
public struct HTTPTour: Sendable {
    let client: GatewayClient
    let print: @Sendable (String) -> Void

    /// A tour of the gateway at `baseURL` that writes its lines with `print`.
    public init(baseURL: String, print: @escaping @Sendable (String) -> Void) {
        self.client = GatewayClient(baseURL: baseURL)
        self.print = print
    }

    /// A trace the tour continues in one step, as an HTTP client with its own tracing would.
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// Runs every step, then closes the client.
    public func run() async -> Tour.Summary {
        var log = Tour.Summary(steps: 0, unexpected: [])
        print("")
        print("== HTTP: the article's API through the gateway at \(client.baseURL)")
        await step(&log, "GET", "/products", expect: 200)
        await step(&log, "GET", "/products/1", expect: 200)
        await step(&log, "GET", "/products/99", expect: 404, note: "NotFound from products")
        await step(&log, "GET", "/users/2", expect: 200)
        await step(&log, "GET", "/users/abc", expect: 400, note: "the id must be an integer")
        await step(&log, "DELETE", "/cart", expect: 200)
        await step(&log, "POST", "/cart", body: #"{"productId": 1, "quantity": 2}"#, expect: 200)
        await step(&log, "POST", "/cart", body: #"{"productId": 3, "quantity": 1}"#, expect: 200)
        await step(
            &log,
            "POST",
            "/cart",
            body: #"{"productId": 2, "quantity": 6}"#,
            expect: 400,
            note: "ValidationError: quantity is 0 to 5"
        )
        await step(&log, "POST", "/cart", body: #"{"productId": 99, "quantity": 1}"#, expect: 404)
        await step(&log, "POST", "/cart", body: #"{"productId": 1,"#, expect: 400, note: "malformed JSON")
        await step(
            &log,
            "GET",
            "/cart",
            headers: [("traceparent", Self.traceparent)],
            expect: 200,
            note: "continues the caller's trace"
        )
        await step(&log, "POST", "/act/math/add", body: #"{"a": 1, "b": 2}"#, expect: 200, note: "the generic route")
        await step(&log, "POST", "/act/math/divide", body: #"{"a": 1, "b": 0}"#, expect: 400)
        await step(&log, "POST", "/act/cart/ping", body: "{}", expect: 404, note: "PatternNotFound")
        await openAPIStep(&log)
        do { try await client.shutdown() } catch { log.unexpected.append("closing the HTTP client: \(error)") }
        print("")
        if log.unexpected.isEmpty {
            print("HTTP tour: \(log.steps) requests, all as expected")
        } else {
            print(
                "HTTP tour: \(log.steps) requests, \(log.unexpected.count) unexpected: \(log.unexpected.joined(separator: "; "))"
            )
        }
        return log
    }

    private func step(
        _ log: inout Tour.Summary,
        _ method: String,
        _ path: String,
        body: String? = nil,
        headers: [(String, String)] = [],
        expect: Int,
        note: String? = nil
    ) async {
        log.steps += 1
        let shownHeaders = headers.map { "  \($0.0): \($0.1)" }.joined()
        print("\(method) \(path)\(body.map { " " + $0 } ?? "")\(shownHeaders)\(note.map { "   # \($0)" } ?? "")")
        do {
            let response: GatewayClient.Response
            if let body {
                response = try await client.send(method, path, text: body, headers: headers)
            } else {
                response = try await client.send(method, path, headers: headers)
            }
            var line = "  => \(response.status) \(response.text)"
            if let retryAfter = response.header("retry-after") { line += "  (Retry-After: \(retryAfter))" }
            print(line)
            if !headers.isEmpty, let traceresponse = response.header("traceresponse") {
                print("     traceresponse: \(traceresponse)")
            }
            if response.status != expect {
                log.unexpected.append("\(method) \(path): expected \(expect), got \(response.status)")
            }
        } catch {
            print("  => failed: \(error)")
            log.unexpected.append("\(method) \(path): \(error)")
        }
    }

    /// `GET /openapi.json`, shown as its paths rather than the whole document.
    private func openAPIStep(_ log: inout Tour.Summary) async {
        log.steps += 1
        print("GET /openapi.json   # the OpenAPI 3.1 document, from the routes and the services' request schemas")
        do {
            let response = try await client.send("GET", "/openapi.json")
            let text = response.text
            print(
                "  => \(response.status) \(text.utf8.count) bytes of OpenAPI \(text.contains("\"3.1.0\"") ? "3.1.0" : "?")"
            )
            if response.status != 200 { log.unexpected.append("GET /openapi.json: got \(response.status)") }
        } catch {
            print("  => failed: \(error)")
            log.unexpected.append("GET /openapi.json: \(error)")
        }
    }
}
