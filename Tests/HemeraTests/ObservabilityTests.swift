import InMemoryTracing
import MetricsTestKit
import Testing
import Tracing

@testable import Hemera

private struct Order: HemeraPattern, HemeraValidatable {
    static let topic = "orders"
    static let cmd: String? = "place"
    typealias Reply = Int
    var quantity: Int
    static let rules: [ValidationRule<Order>] = [.range("quantity", \.quantity, 0...5)]
}

private struct Stock: HemeraPattern {
    static let topic = "stock"
    static let cmd: String? = "check"
    typealias Reply = String
    var quantity: Int
}

private struct Refused: Error {}

/// The library's in-memory tracer with W3C propagation (`traceparent`), as swift-otel propagates:
/// spans and ids from `InMemoryTracer`, ids in W3C form.
struct W3CInMemoryTracer: Tracer {
    typealias Span = InMemorySpan
    let base = InMemoryTracer(
        idGenerator: .init(
            nextTraceID: { randomHex(count: 32) },
            nextSpanID: { randomHex(count: 16) }
        )
    )

    func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> InMemorySpan {
        base.startSpan(
            operationName,
            context: context(),
            ofKind: kind,
            at: instant(),
            function: function,
            file: fileID,
            line: line
        )
    }

    func forceFlush() {}

    func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    )
    where Inject.Carrier == Carrier {
        guard let span = context.inMemorySpanContext else { return }
        injector.inject("00-\(span.traceID)-\(span.spanID)-01", forKey: "traceparent", into: &carrier)
        injector.inject("hemera=test", forKey: "tracestate", into: &carrier)
    }

    func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    )
    where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier) else { return }
        let parts = header.split(separator: "-")
        guard parts.count == 4 else { return }
        context.inMemorySpanContext = InMemorySpanContext(
            traceID: String(parts[1]),
            spanID: String(parts[2]),
            parentSpanID: nil
        )
    }

    var finishedSpans: [FinishedInMemorySpan] { base.finishedSpans }
}

private func randomHex(count: Int) -> String {
    String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
}

/// Waits until `count` spans finished (the service ends its span after replying).
private func finishedSpans(_ tracer: W3CInMemoryTracer, count: Int) async -> [FinishedInMemorySpan] {
    _ = await eventually { tracer.finishedSpans.count >= count }
    return tracer.finishedSpans
}

@Suite("Metrics (swift-metrics) and tracing (swift-distributed-tracing)")
struct ObservabilityTests {
    @Test func offWhenNothingIsBootstrapped() async throws {
        let hemera = Hemera(transport: InMemoryTransport())
        #expect(hemera.observers == nil)
        var options = HemeraOptions()
        options.observability = HemeraObservability(metricsFactory: TestMetrics())
        let metered = Hemera(transport: InMemoryTransport(), options: options)
        #expect(metered.observers?.metrics != nil)
        #expect(metered.observers?.tracer == nil)
        await hemera.close()
        await metered.close()
    }

    @Test(arguments: allKinds) func serviceMetricsCountRequestsByOutcome(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let metrics = TestMetrics()
            let service = try await env.hemera(app: "orders") {
                $0.observability = HemeraObservability(metricsFactory: metrics)
            }
            try service.add(Order.self) { order, _ in
                if order.quantity == 4 { throw Refused() }
                return order.quantity
            }
            try await service.ready()
            let client = try await env.hemera(app: "client")
            #expect(try await client.act(Order(quantity: 2)) == 2)
            #expect(try await client.act(Order(quantity: 3)) == 3)
            #expect(await hemeraError { _ = try await client.act(Order(quantity: 9)) }?.name == .validation)
            #expect(await hemeraError { _ = try await client.act(Order(quantity: 4)) } != nil)

            let base = [("service", "orders"), ("action", "orders_place")]
            @Sendable func requests(_ outcome: String) -> Int64 {
                metrics.counterTotal(label: "hemera_service_requests_total", dimensions: base + [("outcome", outcome)])
            }
            _ = await eventually { requests("error") == 1 }
            #expect(requests("ok") == 2)
            #expect(requests("validation_error") == 1)
            #expect(requests("error") == 1)
            let okTimer = try metrics.expectTimer("hemera_service_request_duration_seconds", base + [("outcome", "ok")])
            #expect(okTimer.values.count == 2)
            #expect(okTimer.values.allSatisfy { $0 > 0 })
            let inFlight = try metrics.expectMeter("hemera_service_requests_in_flight", base)
            #expect(inFlight.values.max() == 1)
            #expect(inFlight.lastValue == 0)
        }
    }

    @Test func clientMetricsTimeActsAndCountNoRespondersAndTimeouts() async throws {
        try await withEnv(.nats) { env in
            let metrics = TestMetrics()
            let client = try await env.hemera(app: "client") {
                $0.observability = HemeraObservability(metricsFactory: metrics)
            }
            let service = try await env.hemera(app: "orders")
            try service.add(Order.self) { order, _ in
                if order.quantity == 4 { throw Refused() }
                if order.quantity == 5 { try await Task.sleep(for: .seconds(2)) }
                return order.quantity
            }
            try await service.ready()
            #expect(try await client.act(Order(quantity: 1)) == 1)
            #expect(try await client.act(["topic": "orders", "cmd": "place", "quantity": 2]) == 2)
            _ = await hemeraError { _ = try await client.act(Order(quantity: 4)) }
            _ = await hemeraError { _ = try await client.act(Order(quantity: 5), timeout: .milliseconds(100)) }
            _ = await hemeraError { _ = try await client.act(["topic": "nobody", "cmd": "x"]) }

            func timer(_ topic: String, _ outcome: String) -> [Int64] {
                metrics.timers(
                    label: "hemera_client_act_duration_seconds",
                    dimensions: [("topic", topic), ("outcome", outcome)]
                ).flatMap(\.values)
            }
            #expect(timer("orders", "ok").count == 2)
            #expect(timer("orders", "error").count == 1)
            #expect(timer("orders", "timeout").count == 1)
            #expect(timer("nobody", "no_responders").count == 1)
            #expect(timer("orders", "timeout").first.map { $0 >= 100_000_000 } == true)
            #expect(
                metrics.counterTotal(label: "hemera_client_act_timeouts_total", dimensions: [("topic", "orders")]) == 1
            )
            #expect(
                metrics.counterTotal(label: "hemera_client_act_no_responders_total", dimensions: [("topic", "nobody")])
                    == 1
            )
        }
    }

    @Test(arguments: allKinds) func oneTraceAcrossAnActAndANestedAct(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let tracer = W3CInMemoryTracer()
            let observability = HemeraObservability(tracer: tracer)
            let stock = try await env.hemera(app: "stock") { $0.observability = observability }
            let seen = Recorder()
            try stock.add(Stock.self) { _, context in
                seen.append("stock:\(context.trace.traceId)")
                return "ok"
            }
            let orders = try await env.hemera(app: "orders") { $0.observability = observability }
            try orders.add(Order.self) { order, context in
                seen.append("orders:\(context.trace.traceId)")
                _ = try await context.hemera.act(Stock(quantity: order.quantity))
                return order.quantity
            }
            try await stock.ready()
            try await orders.ready()
            let client = try await env.hemera(app: "client") { $0.observability = observability }
            #expect(try await client.act(Order(quantity: 1)) == 1)

            let spans = await finishedSpans(tracer, count: 4)
            #expect(spans.count == 4)
            let clientSpan = try #require(spans.first { $0.operationName == "orders/place" && $0.kind == .client })
            let orderSpan = try #require(spans.first { $0.operationName == "orders/place" && $0.kind == .server })
            let nestedSpan = try #require(spans.first { $0.operationName == "stock/check" && $0.kind == .client })
            let stockSpan = try #require(spans.first { $0.operationName == "stock/check" && $0.kind == .server })
            let traceID = clientSpan.traceID
            #expect(traceID.count == 32)
            #expect(spans.allSatisfy { $0.traceID == traceID })
            #expect(clientSpan.spanContext.parentSpanID == nil)
            #expect(orderSpan.spanContext.parentSpanID == clientSpan.spanContext.spanID)
            #expect(nestedSpan.spanContext.parentSpanID == orderSpan.spanContext.spanID)
            #expect(stockSpan.spanContext.parentSpanID == nestedSpan.spanContext.spanID)
            // Hemera's own trace object carries the same trace id, for Node services in between.
            #expect(Set(seen.all) == ["orders:\(traceID)", "stock:\(traceID)"])
        }
    }

    @Test func errorsAreRecordedOnBothSpans() async throws {
        try await withEnv(.nats) { env in
            let tracer = W3CInMemoryTracer()
            let service = try await env.hemera(app: "orders") { $0.observability = HemeraObservability(tracer: tracer) }
            try service.add(Order.self) { order, _ in order.quantity }
            try await service.ready()
            let client = try await env.hemera(app: "client") {
                $0.observability = HemeraObservability(tracer: tracer)
            }
            _ = await hemeraError { _ = try await client.act(Order(quantity: 9)) }
            let spans = await finishedSpans(tracer, count: 2)
            #expect(spans.count == 2)
            for span in spans {
                #expect(span.status?.code == .error, "\(span.kind)")
                #expect(span.errors.count == 1)
            }
        }
    }

    /// A client that is not Hemera sends the W3C header with a request: the service's span
    /// continues that trace.
    @Test func incomingTraceparentFromANonHemeraClientIsHonoured() async throws {
        try await withEnv(.nats) { env in
            let tracer = W3CInMemoryTracer()
            let service = try await env.hemera(app: "orders") { $0.observability = HemeraObservability(tracer: tracer) }
            try service.add(Order.self) { order, _ in order.quantity }
            try await service.ready()
            let raw = try await env.transport()
            let envelope =
                #"{"pattern":{"topic":"orders","cmd":"place","quantity":2},"meta":{},"request":{"id":"r1","type":"request"}}"#
            let reply = try await raw.request(
                to: "orders",
                payload: Array(envelope.utf8),
                headers: ["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
                timeout: .seconds(2)
            )
            #expect(try JSONValue(parsing: reply.payload)["result"] == 2)
            let span = try #require(await finishedSpans(tracer, count: 1).first)
            #expect(span.kind == .server)
            #expect(span.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(span.spanContext.parentSpanID == "00f067aa0ba902b7")
        }
    }

    /// A Node Hemera service sends no headers: the `trace` object continues the trace, the same
    /// way in every Swift service.
    @Test func aRequestWithOnlyATraceObjectContinuesItsTrace() async throws {
        try await withEnv(.nats) { env in
            let tracer = W3CInMemoryTracer()
            let service = try await env.hemera(app: "orders") { $0.observability = HemeraObservability(tracer: tracer) }
            try service.add(Order.self) { order, _ in order.quantity }
            try await service.ready()
            let raw = try await env.transport()
            for traceID in ["4bf92f3577b34da6a3ce929d0e0e4736", "TKVEFGVQJ18UTPY1SKY8Q0"] {
                let envelope =
                    #"{"pattern":{"topic":"orders","cmd":"place","quantity":1},"meta":{},"#
                    + #""trace":{"traceId":"\#(traceID)","spanId":"TKVEFGVQJ18UTPY1SKY8IK","timestamp":1},"#
                    + #""request":{"id":"r1","type":"request"}}"#
                _ = try await raw.request(to: "orders", payload: Array(envelope.utf8), timeout: .seconds(2))
            }
            let spans = await finishedSpans(tracer, count: 2)
            #expect(spans.count == 2)
            #expect(spans.first?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
            let mapped = W3CTraceParent.traceID(fromHemera: "TKVEFGVQJ18UTPY1SKY8Q0")
            #expect(spans.last?.traceID == mapped)
            #expect(mapped.count == 32 && mapped != W3CTraceParent.traceID(fromHemera: "TKVEFGVQJ18UTPY1SKY8Q1"))
            #expect(
                spans.allSatisfy {
                    $0.spanContext.parentSpanID == W3CTraceParent.spanID(fromHemera: "TKVEFGVQJ18UTPY1SKY8IK")
                }
            )
        }
    }

    @Test func traceparentParsing() {
        let parsed = W3CTraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(parsed?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(parsed?.parentID == "00f067aa0ba902b7")
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "garbage",
        ] {
            #expect(W3CTraceParent(parsing: bad) == nil, "\(bad)")
        }
    }
}
