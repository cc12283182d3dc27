import Foundation
import Hemera
import HemeraDemoGateway
import HemeraDemoServices
import HemeraGateway
import Logging
import Testing

/// The gateway's options in these tests: the demo's, with the `probe` topic of the test actions
/// callable, a small body limit and the given act timeout.
func testOptions(timeout: Duration = .seconds(10), maxBodyBytes: Int = 4096) -> (Logger) -> GatewayOptions {
    { logger in
        var options = DemoGateway.options(logger: logger, timeout: timeout)
        options.actTopics?.insert("probe")
        options.maxBodyBytes = maxBodyBytes
        return options
    }
}

/// A handler error whose text must never reach an HTTP caller.
struct LeakyFailure: Error, CustomStringConvertible {
    var description: String { "connection string postgres://admin:hunter2@db.internal/shop" }
}

/// The test actions on the `probe` topic.
func addProbes(_ hemera: Hemera) throws {
    try hemera.add(["topic": "probe", "cmd": "trace"]) { _, context in
        let trace = context.trace
        return [
            "traceId": .string(trace.traceId), "spanId": .string(trace.spanId),
            "parentSpanId": trace.parentSpanId.map { .string($0) } ?? .null,
        ]
    }
    try hemera.add(["topic": "probe", "cmd": "echo"]) { pattern, _ in pattern }
    try hemera.add(["topic": "probe", "cmd": "slow"]) { _, _ in
        try await Task.sleep(for: .seconds(4))
        return "late"
    }
    try hemera.add(["topic": "probe", "cmd": "crash"]) { _, _ in throw LeakyFailure() }
    var busy = AddOptions(concurrencyLimit: 1)
    busy.maxQueued = 0
    try hemera.add(["topic": "probe", "cmd": "busy"], options: busy) { _, _ in
        try await Task.sleep(for: .milliseconds(1500))
        return "done"
    }
}

@Suite("Gateway over HTTP: routes, errors, bodies, traces, load")
struct GatewayHTTPTests {
    @Test("every route of the article's API calls its action and answers its result")
    func everyRoute() async throws {
        try await withGateway(options: testOptions()) { env in
            let client = env.client
            let products = try await client.send("GET", "/products")
            #expect(products.status == 200)
            #expect(try json(products).arrayValue?.count == 3)
            let product = try await client.send("GET", "/products/1")
            #expect(product.status == 200)
            #expect(try json(product)["name"]?.stringValue == "NATS t-shirt")
            let users = try await client.send("GET", "/users")
            #expect(try json(users).arrayValue?.count == 3)
            let user = try await client.send("GET", "/users/2")
            #expect(try json(user)["name"]?.stringValue == "Grace Hopper")

            let cleared = try await client.send("DELETE", "/cart")
            #expect(cleared.status == 200)
            #expect(try json(cleared)["removedLines"] != nil)
            let added = try await client.send("POST", "/cart", text: #"{"productId": 1, "quantity": 2}"#)
            #expect(added.status == 200, "\(added.text)")
            #expect(try json(added) == [["productId": 1, "quantity": 2]])
            _ = try await client.send("POST", "/cart", text: #"{"productId": 3, "quantity": 1}"#)
            let cart = try await client.send("GET", "/cart")
            #expect(cart.status == 200)
            #expect(try json(cart)["totalCents"] == .integer(2 * 1999 + 350))
            #expect(try json(cart)["items"]?.arrayValue?.count == 2)
            let emptied = try await client.send("DELETE", "/cart")
            #expect(try json(emptied)["removedLines"] == 2)
            #expect(try json(try await client.send("GET", "/cart"))["items"] == [])

            let sum = try await client.send("POST", "/act/math/add", text: #"{"a": 1, "b": 2}"#)
            #expect(sum.status == 200)
            #expect(try json(sum) == 3)
            // The generic route with no body: the pattern is {topic, cmd} alone.
            let listed = try await client.send("POST", "/act/users/list")
            #expect(listed.status == 200)
            #expect(try json(listed).arrayValue?.count == 3)
        }
    }

    @Test("each error maps to its status with a body of name, message, code and details, and no internals")
    func errorMapping() async throws {
        try await withGateway(options: testOptions(), addExtra: addProbes) { env in
            let client = env.client
            // ValidationError → 400 with its details.
            let invalid = try await client.send("POST", "/cart", text: #"{"productId": 1, "quantity": 6}"#)
            try expectErrorBody(invalid, status: 400, name: "ValidationError")
            let details = try json(invalid)["details"]?.arrayValue ?? []
            #expect(details.count == 1)
            #expect(details.first?["path"] == ["quantity"])

            // NotFound → 404, with only the four keys (no statusCode, kind, id, hops, stack).
            let missing = try await client.send("GET", "/products/99")
            try expectErrorBody(missing, status: 404, name: "NotFound")
            #expect(try json(missing)["code"] == "E_NOT_FOUND")
            // A nested NotFound (cart → products) too.
            let nested = try await client.send("POST", "/cart", text: #"{"productId": 99, "quantity": 1}"#)
            try expectErrorBody(nested, status: 404, name: "NotFound")

            // PatternNotFound → 404.
            let unmatched = try await client.send("POST", "/act/cart/ping", text: "{}")
            try expectErrorBody(unmatched, status: 404, name: "PatternNotFound")

            // OverloadedError → 503 with Retry-After: one slot, no queue, two at once.
            async let first = client.send("POST", "/act/probe/busy")
            try await Task.sleep(for: .milliseconds(300))
            let second = try await client.send("POST", "/act/probe/busy")
            try expectErrorBody(second, status: 503, name: "OverloadedError")
            #expect(second.header("retry-after") == "1")
            _ = try await first

            // An unnamed handler error → 500 InternalError; its text never reaches the caller.
            let crash = try await client.send("POST", "/act/probe/crash")
            try expectErrorBody(crash, status: 500, name: "InternalError")
            #expect(!crash.text.contains("hunter2"))
            #expect(!crash.text.contains("postgres"))

            // A service's own error name other than those → 500, as the service named it.
            let overflow = try await client.send(
                "POST",
                "/act/math/multiply",
                text: #"{"a": 9223372036854775807, "b": 2}"#
            )
            try expectErrorBody(overflow, status: 500, name: "RangeError")
        }
    }

    /// Its own gateway with a short act timeout: in the errorMapping test above every other act would
    /// share it, and the first acts of a full, parallel test run took over 0.4 s (1.5 s once) to answer.
    /// Here the only act is one that must time out, so a slow machine cannot change the outcome.
    @Test("TimeoutError maps to 504, at the gateway's act timeout and not the handler's end")
    func timeoutMapping() async throws {
        try await withGateway(options: testOptions(timeout: .seconds(1)), addExtra: addProbes) { env in
            // The gateway's act timeout is 1 s, the handler takes 4 s.
            let started = ContinuousClock.now
            let slow = try await env.client.send("POST", "/act/probe/slow")
            try expectErrorBody(slow, status: 504, name: "TimeoutError")
            #expect(ContinuousClock.now - started < .seconds(3.5))
        }
    }

    @Test("NoRespondersError maps to 503")
    func noResponders() async throws {
        try await withGateway(options: { logger in
            var options = testOptions()(logger)
            options.actTopics = nil
            return options
        }) { env in
            let response = try await env.client.send("POST", "/act/nobody/here", text: "{}")
            try expectErrorBody(response, status: 503, name: "NoRespondersError")
            #expect(response.header("retry-after") == nil)
            // `$…` and `_INBOX…` subjects are never callable, even with every topic allowed.
            let system = try await env.client.send("POST", "/act/$SRV.PING/x", text: "{}")
            try expectErrorBody(system, status: 404, name: "RouteNotFound")
            let inbox = try await env.client.send("POST", "/act/_INBOX.abc/x", text: "{}")
            try expectErrorBody(inbox, status: 404, name: "RouteNotFound")
        }
    }

    @Test("malformed, wrong-typed, oversized and mistyped bodies are refused and never reach a service")
    func badBodies() async throws {
        try await withGateway(options: testOptions(maxBodyBytes: 1024), addExtra: addProbes) { env in
            let client = env.client
            let before = env.received.total
            let malformed = try await client.send("POST", "/cart", text: #"{"productId": 1,"#)
            try expectErrorBody(malformed, status: 400, name: "InvalidBodyError")
            #expect(try json(malformed)["code"] == "E_INVALID_JSON")
            let garbage = try await client.send("POST", "/cart", body: [0xff, 0xfe, 0x00, 0x7b])
            try expectErrorBody(garbage, status: 400, name: "InvalidBodyError")
            let array = try await client.send("POST", "/cart", text: "[1, 2]")
            try expectErrorBody(array, status: 400, name: "InvalidBodyError")
            #expect(try json(array)["code"] == "E_BODY_NOT_OBJECT")
            let empty = try await client.send("POST", "/cart", text: "")
            try expectErrorBody(empty, status: 400, name: "InvalidBodyError")
            #expect(try json(empty)["code"] == "E_BODY_REQUIRED")
            let control = try await client.send(
                "POST",
                "/cart",
                text: #"{"productId": 1, "quantity": 1, "pubsub$": true}"#
            )
            try expectErrorBody(control, status: 400, name: "InvalidBodyError")
            let override = try await client.send("POST", "/act/probe/echo", text: #"{"topic": "cart"}"#)
            try expectErrorBody(override, status: 400, name: "InvalidBodyError")
            #expect(try json(override)["code"] == "E_RESERVED_KEY")
            let deep = try await client.send("POST", "/cart", text: String(repeating: "[", count: 1000))
            try expectErrorBody(deep, status: 400, name: "InvalidBodyError")
            let large = #"{"productId": 1, "quantity": 1, "note": ""# + String(repeating: "x", count: 2000) + #""}"#
            let oversized = try await client.send("POST", "/cart", text: large)
            try expectErrorBody(oversized, status: 413, name: "PayloadTooLargeError")
            // Without a Content-Length (chunked), the limit holds while reading.
            let streamed = try await client.send("POST", "/cart", body: Array(large.utf8), chunked: true)
            try expectErrorBody(streamed, status: 413, name: "PayloadTooLargeError")
            let streamedSmall = try await client.send(
                "POST",
                "/act/probe/echo",
                body: Array(#"{"n": 1}"#.utf8),
                chunked: true
            )
            #expect(streamedSmall.status == 200)
            let text = try await client.send("POST", "/cart", text: "productId=1", contentType: "text/plain")
            try expectErrorBody(text, status: 415, name: "UnsupportedMediaTypeError")
            let notInteger = try await client.send("GET", "/products/abc")
            try expectErrorBody(notInteger, status: 400, name: "ValidationError")
            #expect(try json(notInteger)["details"]?.arrayValue?.first?["path"] == ["id"])
            let hugeId = try await client.send("GET", "/products/99999999999999999999")
            try expectErrorBody(hugeId, status: 400, name: "ValidationError")
            let route = try await client.send("GET", "/nowhere")
            try expectErrorBody(route, status: 404, name: "RouteNotFound")
            let method = try await client.send("PUT", "/cart", text: "{}")
            try expectErrorBody(method, status: 405, name: "MethodNotAllowed")
            #expect(method.header("allow") == "GET, POST, DELETE")
            #expect(
                env.received.total == before + 1,
                "a refused request reached a service (the one let through is the chunked echo)"
            )

            // The gateway is still healthy, and a well-formed body with a charset passes.
            let fine = try await client.send(
                "POST",
                "/act/probe/echo",
                text: #"{"x": [1, {"y": null}]}"#,
                contentType: "application/json; charset=utf-8"
            )
            #expect(fine.status == 200)
            #expect(try json(fine) == ["topic": "probe", "cmd": "echo", "x": [1, ["y": nil]]])
        }
    }

    @Test("an incoming traceparent is continued into every act, nested ones included; the response names the trace")
    func traceparent() async throws {
        try await withGateway(options: testOptions(), addExtra: addProbes) { env in
            let client = env.client
            let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let traced = try await client.send("POST", "/act/probe/trace", headers: [("traceparent", incoming)])
            #expect(traced.status == 200)
            let seen = try json(traced)
            #expect(seen["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736")
            let response = try #require(TraceParent(header: traced.header("traceresponse") ?? ""))
            #expect(response.traceId == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(response.parentId != "00f067aa0ba902b7", "the gateway's own span")
            #expect(response.flags == 1)
            // The act's parent span is the gateway's span.
            #expect(seen["parentSpanId"]?.stringValue == response.parentId)

            // Nested: GET /cart → cart:show → products:get, all in the caller's trace.
            _ = try await client.send("DELETE", "/cart")
            _ = try await client.send("POST", "/cart", text: #"{"productId": 2, "quantity": 1}"#)
            let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
            let cart = try await client.send("GET", "/cart", headers: [("traceparent", other)])
            #expect(cart.status == 200)
            #expect(cart.header("traceresponse")?.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-") == true)
            #expect(cart.header("traceresponse")?.hasSuffix("-00") == true, "the sampled flag is kept")
            let productTraces = env.received.traces("products").map(\.traceId)
            #expect(productTraces.contains("0af7651916cd43dd8448eb211c80319c"))
            #expect(env.received.traces("cart").map(\.traceId).contains("0af7651916cd43dd8448eb211c80319c"))

            // No (or an invalid) traceparent: a new trace, named in the response and seen by the service.
            for header in [[], [("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")]] {
                let fresh = try await client.send("POST", "/act/probe/trace", headers: header)
                let named = try #require(TraceParent(header: fresh.header("traceresponse") ?? ""))
                #expect(try json(fresh)["traceId"]?.stringValue == named.traceId)
                #expect(named.traceId != "4bf92f3577b34da6a3ce929d0e0e4736")
            }
            // Errors carry it too.
            let failed = try await client.send("GET", "/products/99", headers: [("traceparent", incoming)])
            #expect(failed.header("traceresponse")?.contains("4bf92f3577b34da6a3ce929d0e0e4736") == true)
        }
    }

    @Test("64 concurrent clients: every request answered, each with its own result")
    func concurrentLoad() async throws {
        try await withGateway(options: testOptions()) { env in
            let clients = 64
            let perClient = 25
            let outcomes = try await withThrowingTaskGroup(of: [String].self) { group in
                for clientIndex in 0..<clients {
                    group.addTask {
                        var failures: [String] = []
                        for index in 0..<perClient {
                            let a = clientIndex * 1000 + index
                            if index % 2 == 0 {
                                let response = try await env.client.send(
                                    "POST",
                                    "/act/math/add",
                                    text: "{\"a\": \(a), \"b\": \(clientIndex)}"
                                )
                                if response.status != 200 || (try? json(response)) != .integer(Int64(a + clientIndex)) {
                                    failures.append("add \(a)+\(clientIndex): \(response.status) \(response.text)")
                                }
                            } else {
                                let id = index % 3 + 1
                                let response = try await env.client.send("GET", "/products/\(id)")
                                if response.status != 200 || (try? json(response))?["id"] != .integer(Int64(id)) {
                                    failures.append("product \(id): \(response.status) \(response.text)")
                                }
                            }
                        }
                        return failures
                    }
                }
                var all: [String] = []
                for try await failures in group { all += failures }
                return all
            }
            #expect(outcomes.isEmpty, "\(outcomes.prefix(5))")
            #expect(env.received.count("math") == clients * ((perClient + 1) / 2))
            #expect(env.received.count("products") == clients * (perClient / 2))
        }
    }
}

@Suite("TraceParent and GatewayError, as units")
struct GatewayUnitTests {
    @Test("traceparent parsing follows W3C Trace Context")
    func parsing() {
        let valid = TraceParent(header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(valid?.traceId == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(valid?.parentId == "00f067aa0ba902b7")
        #expect(valid?.flags == 1)
        #expect(valid?.description == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        for invalid in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            #expect(TraceParent(header: invalid) == nil, "\(invalid)")
        }
        // A later version is read by its first four fields.
        #expect(TraceParent(header: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever") != nil)
        #expect(TraceParent.randomTraceId().count == 32)
        #expect(TraceParent.randomSpanId().count == 16)
    }

    @Test("the status of each Hemera error")
    func mapping() {
        func status(_ name: HemeraError.Name) -> Int {
            GatewayError(HemeraError(name: name, message: "m"), traceId: "t").status
        }
        #expect(status(.validation) == 400)
        #expect(status("NotFound") == 404)
        #expect(status(.patternNotFound) == 404)
        #expect(status(.timeout) == 504)
        #expect(status(.noResponders) == 503)
        #expect(status(.overloaded) == 503)
        #expect(GatewayError(HemeraError(name: .overloaded, message: "m"), traceId: "t").retryAfterSeconds == 1)
        #expect(status(.internalError) == 500)
        #expect(status("RangeError") == 500)
        let leaked = GatewayError(
            HemeraError(name: .responseDecoding, message: "keyNotFound(CodingKeys…)", extra: ["stack": "at …"]),
            traceId: "abc"
        )
        #expect(leaked.name == "InternalError")
        #expect(!leaked.message.contains("CodingKeys"))
        #expect(leaked.body.objectValue?.count == 4)
    }
}
