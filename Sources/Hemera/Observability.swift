public import CoreMetrics
internal import HemeraLocks
public import Tracing

// Metrics (swift-metrics) and distributed tracing (swift-distributed-tracing) of acts and handled
// requests. Off unless a metrics backend or a tracer is bootstrapped (or given in
// `HemeraOptions.observability`) when the instance is created: then the act and receive paths only
// test one stored optional.

/// Where a Hemera instance sends metrics and spans.
///
/// Leave both `nil` to use what the process bootstrapped (`MetricsSystem.bootstrap`,
/// `InstrumentationSystem.bootstrap`) before the instance was created; with nothing bootstrapped
/// the instance records nothing and pays nothing. Pass `NOOPMetricsHandler.instance` or
/// `NoOpTracer()` to turn one off for this instance.
///
/// Metrics (labels; dimensions in brackets):
/// - `hemera_service_requests_total` [`service`, `action`, `outcome`]: handled requests, `outcome`
///   `ok`, `validation_error` or `error`;
/// - `hemera_service_request_duration_seconds` [`service`, `action`, `outcome`]: a timer, from
///   receipt to reply;
/// - `hemera_service_requests_in_flight` [`service`, `action`]: a meter;
/// - `hemera_client_act_duration_seconds` [`topic`, `outcome`]: a timer per act, `outcome` `ok`,
///   `error` (an error reply), `timeout`, `no_responders` or `failure`;
/// - `hemera_client_act_timeouts_total` and `hemera_client_act_no_responders_total` [`topic`].
///
/// Spans: one per act (kind `client`) and one per handled request (kind `server`), named
/// `topic/cmd`. The context travels as W3C `traceparent` and `tracestate` NATS headers, written
/// and read by the tracer's propagation (swift-otel's is W3C). A request without them (from a Node
/// Hemera service, which sends no headers) continues the trace of its `trace` object: a `traceId`
/// of 32 hexadecimal digits is the W3C trace id itself, any other is mapped to one by a fixed hash,
/// so every Swift service of a chain reports the same trace. An act that starts a trace writes the
/// W3C ids into its `trace` object, which Node services pass on.
public struct HemeraObservability: Sendable {
    /// Where metrics go; `nil` takes `MetricsSystem.factory` when one was bootstrapped.
    public var metricsFactory: (any MetricsFactory)?
    /// Where spans go; `nil` takes `InstrumentationSystem.tracer` when one was bootstrapped.
    public var tracer: (any Tracer)?

    /// Creates the settings.
    public init(metricsFactory: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil) {
        self.metricsFactory = metricsFactory
        self.tracer = tracer
    }
}

/// The W3C trace-context header names.
public enum W3CTraceHeaders {
    /// `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
    public static let traceparent = "traceparent"
    /// `tracestate`: vendor data, passed on as received.
    public static let tracestate = "tracestate"
}

/// The metrics and tracer of one instance; `nil` in ``Hemera`` when both are off.
final class Observers: Sendable {
    let metrics: (any MetricsFactory)?
    let tracer: (any Tracer)?
    let serviceName: String
    private let clientMetrics = PthreadLock<[String: ClientMetrics]>([:])

    private init(metrics: (any MetricsFactory)?, tracer: (any Tracer)?, serviceName: String) {
        self.metrics = metrics
        self.tracer = tracer
        self.serviceName = serviceName
    }

    /// The observers for `options`, or `nil` when neither metrics nor tracing is on.
    static func make(_ options: HemeraObservability, serviceName: String) -> Observers? {
        var metrics = options.metricsFactory ?? MetricsSystem.factory
        if metrics is NOOPMetricsHandler { metrics = NOOPMetricsHandler.instance }
        let metricsOn = !(metrics is NOOPMetricsHandler)
        let tracer = options.tracer ?? InstrumentationSystem.tracer
        let tracingOn = !(tracer is NoOpTracer)
        guard metricsOn || tracingOn else { return nil }
        return Observers(metrics: metricsOn ? metrics : nil, tracer: tracingOn ? tracer : nil, serviceName: serviceName)
    }

    // MARK: Client side

    struct ClientMetrics: Sendable {
        let durations: [String: Timer]
        let timeouts: Counter
        let noResponders: Counter
    }

    static let clientOutcomes = ["ok", "error", "timeout", "no_responders", "failure"]

    private func clientMetrics(topic: String, factory: any MetricsFactory) -> ClientMetrics {
        if let cached = clientMetrics.withLock({ $0[topic] }) { return cached }
        let made = ClientMetrics(
            durations: Dictionary(
                uniqueKeysWithValues: Self.clientOutcomes.map {
                    (
                        $0,
                        Timer(
                            label: "hemera_client_act_duration_seconds",
                            dimensions: [("topic", topic), ("outcome", $0)],
                            factory: factory
                        )
                    )
                }
            ),
            timeouts: Counter(
                label: "hemera_client_act_timeouts_total",
                dimensions: [("topic", topic)],
                factory: factory
            ),
            noResponders: Counter(
                label: "hemera_client_act_no_responders_total",
                dimensions: [("topic", topic)],
                factory: factory
            )
        )
        return clientMetrics.withLock { cache in
            if let raced = cache[topic] { return raced }
            cache[topic] = made
            return made
        }
    }

    static func clientOutcome(_ error: (any Error)?) -> String {
        guard let error else { return "ok" }
        guard let hemeraError = error as? HemeraError else { return "failure" }
        switch hemeraError.name {
        case .timeout: return "timeout"
        case .noResponders: return "no_responders"
        case .closed, .invalidPattern, .parse, .responseDecoding, .permissionDenied, .payloadTooLarge, .internalError:
            // Made by the client, not replied by a service.
            return hemeraError.hops.isEmpty ? "failure" : "error"
        default: return "error"
        }
    }

    /// Runs one act: a client span (its context injected as headers and its ids in the `trace`
    /// object, through ``ObservedAct``), and the act's duration by outcome.
    func observeAct<R>(topic: String, cmd: String?, _ body: () async throws -> R) async throws -> R {
        let start = ContinuousClock.now
        var span: (any Span)?
        var traced: ObservedAct?
        if let tracer {
            let started: any Span = tracer.startSpan(
                cmd.map { "\(topic)/\($0)" } ?? topic,
                context: ServiceContext.current ?? .topLevel,
                ofKind: .client
            )
            started.attributes["messaging.system"] = "nats"
            started.attributes["messaging.destination.name"] = topic
            started.attributes["rpc.system"] = "hemera"
            var headers: [String: String] = [:]
            tracer.inject(started.context, into: &headers, using: HeaderInjector())
            let parent = headers[W3CTraceHeaders.traceparent].flatMap(W3CTraceParent.init(parsing:))
            traced = ObservedAct(headers: headers, traceID: parent?.traceID, spanID: parent?.parentID)
            span = started
        }
        let outcome: Result<R, any Error>
        do {
            outcome = .success(try await ObservedAct.$current.withValue(traced) { try await body() })
        } catch {
            outcome = .failure(error)
        }
        let failure: (any Error)? =
            switch outcome {
            case .success: nil
            case .failure(let error): error
            }
        if let factory = metrics {
            let label = Self.clientOutcome(failure)
            let handles = clientMetrics(topic: topic, factory: factory)
            handles.durations[label]?.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
            if label == "timeout" { handles.timeouts.increment() }
            if label == "no_responders" { handles.noResponders.increment() }
        }
        if let span {
            if let failure {
                span.recordError(failure)
                span.setStatus(SpanStatus(code: .error, message: "\(failure)"))
            }
            span.end()
        }
        return try outcome.get()
    }

    // MARK: Service side

    /// The metrics of one action, made when it is registered.
    struct ActionMetrics: Sendable {
        let inFlight: Meter
        let requests: [String: Counter]
        let durations: [String: Timer]
    }

    static let serviceOutcomes = ["ok", "validation_error", "error"]

    func actionMetrics(action: String) -> ActionMetrics? {
        guard let factory = metrics else { return nil }
        let base = [("service", serviceName), ("action", action)]
        return ActionMetrics(
            inFlight: Meter(label: "hemera_service_requests_in_flight", dimensions: base, factory: factory),
            requests: Dictionary(
                uniqueKeysWithValues: Self.serviceOutcomes.map {
                    (
                        $0,
                        Counter(
                            label: "hemera_service_requests_total",
                            dimensions: base + [("outcome", $0)],
                            factory: factory
                        )
                    )
                }
            ),
            durations: Dictionary(
                uniqueKeysWithValues: Self.serviceOutcomes.map {
                    (
                        $0,
                        Timer(
                            label: "hemera_service_request_duration_seconds",
                            dimensions: base + [("outcome", $0)],
                            factory: factory
                        )
                    )
                }
            )
        )
    }

    /// Starts observing one received request: in flight, and a server span whose parent comes
    /// from the message's headers or its `trace` object.
    func startRequest(_ message: TransportMessage, context: HemeraContext, action: RegisteredAction?)
        -> RequestObservation
    {
        let metrics = action?.endpoint.metrics
        metrics?.inFlight.increment()
        var span: (any Span)?
        if let tracer {
            var parent = ServiceContext.topLevel
            tracer.extract(
                IncomingTraceCarrier(message: message, context: context),
                into: &parent,
                using: IncomingTraceExtractor()
            )
            let name: String
            if case .string(let cmd)? = context.pattern["cmd"] {
                name = "\(context.subject)/\(cmd)"
            } else {
                name = context.subject
            }
            let started: any Span = tracer.startSpan(name, context: parent, ofKind: .server)
            started.attributes["messaging.system"] = "nats"
            started.attributes["messaging.destination.name"] = context.subject
            started.attributes["rpc.system"] = "hemera"
            started.attributes["hemera.service"] = serviceName
            if let endpoint = action?.endpoint { started.attributes["hemera.action"] = endpoint.baseName }
            span = started
        }
        return RequestObservation(metrics: metrics, span: span)
    }
}

/// One handled request being observed: its action's metrics and its server span.
struct RequestObservation: Sendable {
    let metrics: Observers.ActionMetrics?
    let span: (any Span)?

    /// Runs the handler with the server span as the current context: nested acts are its children.
    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard let span else { return try await body() }
        // A request handled in the caller's own task (the in-memory transport) must not reuse the
        // caller's act ids.
        return try await ObservedAct.$current.withValue(nil) {
            try await ServiceContext.withValue(span.context) { try await body() }
        }
    }

    /// Ends the observation with the reply's error, if any.
    func finish(since start: ContinuousClock.Instant, error: HemeraError?) {
        if let metrics {
            let outcome = error == nil ? "ok" : error?.name == .validation ? "validation_error" : "error"
            metrics.inFlight.decrement()
            metrics.requests[outcome]?.increment()
            metrics.durations[outcome]?.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
        }
        if let span {
            if let error {
                span.attributes["hemera.error.name"] = error.name.rawValue
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: "\(error.name.rawValue): \(error.message)"))
            }
            span.end()
        }
    }
}

/// The trace of the act being sent: the tracer's headers and the W3C ids for the `trace` object.
/// Set by ``Observers/observeAct(topic:cmd:_:)`` around the act, read only when tracing is on.
struct ObservedAct: Sendable {
    let headers: [String: String]
    let traceID: String?
    let spanID: String?

    @TaskLocal static var current: ObservedAct?
}

// MARK: - W3C trace context

/// A parsed `traceparent` header (W3C Trace Context, version 00).
struct W3CTraceParent: Equatable {
    var traceID: String
    var parentID: String
    var flags: String

    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; `nil` for anything else or all-zero ids.
    init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", Self.isHex(parts[0]),
            parts[1].count == 32, Self.isHex(parts[1]), parts[1].contains(where: { $0 != "0" }),
            parts[2].count == 16, Self.isHex(parts[2]), parts[2].contains(where: { $0 != "0" }),
            parts[3].count == 2, Self.isHex(parts[3])
        else { return nil }
        if parts[0] == "00", parts.count != 4 { return nil }
        traceID = String(parts[1])
        parentID = String(parts[2])
        flags = String(parts[3])
    }

    init(traceID: String, parentID: String, flags: String = "01") {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    var text: String { "00-\(traceID)-\(parentID)-\(flags)" }

    static func isHex(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// Hemera's `traceId` as a W3C trace id: itself when it is 32 lowercase hexadecimal digits,
    /// else two FNV-1a hashes of it.
    static func traceID(fromHemera id: String) -> String {
        if id.utf8.count == 32, isHex(Substring(id)), id.contains(where: { $0 != "0" }) { return id }
        return hex(fnv1a(id, seed: 0xcbf2_9ce4_8422_2325)) + hex(fnv1a(id, seed: 0x8422_2325_cbf2_9ce4))
    }

    /// Hemera's `spanId` as a W3C span id: itself when it is 16 lowercase hexadecimal digits,
    /// else its FNV-1a hash.
    static func spanID(fromHemera id: String) -> String {
        if id.utf8.count == 16, isHex(Substring(id)), id.contains(where: { $0 != "0" }) { return id }
        return hex(fnv1a(id, seed: 0xcbf2_9ce4_8422_2325))
    }

    private static func fnv1a(_ text: String, seed: UInt64) -> UInt64 {
        var hash = seed
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash == 0 ? 1 : hash
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Writes a tracer's propagation values into a header dictionary.
struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// A received request as a carrier of trace context: its NATS headers, else its `trace` object.
struct IncomingTraceCarrier: Sendable {
    let message: TransportMessage
    let context: HemeraContext
}

/// Reads trace context from a received request: the header asked for; for `traceparent` on a
/// message without one (a Node Hemera peer), one made from the request's `trace` object.
struct IncomingTraceExtractor: Extractor {
    func extract(key: String, from carrier: IncomingTraceCarrier) -> String? {
        if let value = carrier.message.header(key) { return value }
        guard key == W3CTraceHeaders.traceparent else { return nil }
        let trace = carrier.context.trace
        guard !trace.traceId.isEmpty else { return nil }
        let parent = trace.spanId.isEmpty ? trace.traceId : trace.spanId
        return W3CTraceParent(
            traceID: W3CTraceParent.traceID(fromHemera: trace.traceId),
            parentID: W3CTraceParent.spanID(fromHemera: parent)
        ).text
    }
}
