public import HemeraJSON

/// Trace data of one call (`trace` on the wire).
public struct HemeraTrace: Sendable, Equatable {
    /// Shared by every call of one distributed operation.
    public var traceId: String
    /// This call's span.
    public var spanId: String
    /// The span of the caller's request when the call was made inside a handler.
    public var parentSpanId: String?
    /// Milliseconds; Swift sends epoch milliseconds, Node Hemera a process-relative value.
    public var timestamp: Double
    /// The topic called.
    public var service: String
    /// The pattern's method string.
    public var method: String

    /// Creates trace data.
    public init(
        traceId: String,
        spanId: String,
        parentSpanId: String? = nil,
        timestamp: Double,
        service: String,
        method: String
    ) {
        self.traceId = traceId
        self.spanId = spanId
        self.parentSpanId = parentSpanId
        self.timestamp = timestamp
        self.service = service
        self.method = method
    }

    init(wire: JSONValue?) {
        traceId = wire?["traceId"]?.stringValue ?? ""
        spanId = wire?["spanId"]?.stringValue ?? ""
        parentSpanId = wire?["parentSpanId"]?.stringValue
        timestamp = wire?["timestamp"]?.doubleValue ?? 0
        service = wire?["service"]?.stringValue ?? ""
        method = wire?["method"]?.stringValue ?? ""
    }

    mutating func write(to writer: inout JSONWriter) {
        writer.raw("{\"traceId\":")
        writer.string(traceId)
        writer.raw(",\"spanId\":")
        writer.string(spanId)
        if let parentSpanId {
            writer.raw(",\"parentSpanId\":")
            writer.string(parentSpanId)
        }
        writer.raw(",\"timestamp\":")
        writer.double(timestamp)
        writer.raw(",\"service\":")
        writer.string(service)
        writer.raw(",\"method\":")
        writer.string(method)
        writer.raw("}")
    }
}

/// Request data (`request` on the wire).
public struct HemeraRequestInfo: Sendable, Equatable {
    /// A request expecting replies, or a fire-and-forget publish.
    public enum Kind: String, Sendable { case request, pubsub }
    /// Unique per call.
    public var id: String
    /// `request` or `pubsub`.
    public var type: Kind
    /// The topic called.
    public var service: String
    /// The pattern's method string.
    public var method: String

    /// Creates request data.
    public init(id: String, type: Kind, service: String, method: String) {
        self.id = id
        self.type = type
        self.service = service
        self.method = method
    }

    func write(to writer: inout JSONWriter) {
        writer.raw("{\"id\":")
        writer.string(id)
        writer.raw(",\"type\":")
        writer.raw(type == .request ? "\"request\"" : "\"pubsub\"")
        writer.raw(",\"service\":")
        writer.string(service)
        writer.raw(",\"method\":")
        writer.string(method)
        writer.raw("}")
    }
}

/// What a handler knows about the request it serves. Nested acts made inside the handler inherit
/// its `meta` and trace id (through a task-local, nothing to pass).
public struct HemeraContext: Sendable {
    /// The full pattern of the request as received (routing keys and payload).
    public var pattern: JSONValue
    /// Caller metadata: echoed in the reply, inherited by nested acts.
    public var meta: [String: JSONValue]
    /// Data for this service only; not inherited.
    public var delegate: [String: JSONValue]
    /// Trace ids of this request (parsed from the received bytes when asked for).
    public var trace: HemeraTrace {
        HemeraTrace(wire: rawTrace.flatMap { try? EnvelopeParser.parse(payload, range: $0) })
    }
    /// Request data (`id`, `type`, `method`), parsed from the received bytes when asked for.
    public var request: HemeraRequestInfo {
        let wire = rawRequest.flatMap { try? EnvelopeParser.parse(payload, range: $0) }
        return HemeraRequestInfo(
            id: wire?["id"]?.stringValue ?? "",
            type: wire?["type"]?.stringValue == "pubsub" ? .pubsub : .request,
            service: wire?["service"]?.stringValue ?? subject,
            method: wire?["method"]?.stringValue ?? Pattern.method(of: pattern.objectValue ?? [:])
        )
    }
    /// The subject the request arrived on.
    public var subject: String
    /// The reply inbox, or `nil` for a publish/subscribe message.
    public var replyTo: String?
    /// The instance handling the request: make nested calls through it (`context.hemera.act(…)`);
    /// they inherit this request's `meta` and trace.
    public let hemera: Hemera
    /// The received message and where its `trace` and `request` objects are, echoed verbatim in
    /// replies.
    let payload: [UInt8]
    let rawTrace: Range<Int>?
    let rawRequest: Range<Int>?
    /// When the caller stops waiting (from the `Hemera-Timeout` header), if it said so. Nested
    /// acts get at most the time left.
    public internal(set) var deadline: ContinuousClock.Instant? {
        get { deadlineOffset.map { ContextClock.origin.advanced(by: $0) } }
        set { deadlineOffset = newValue.map { ContextClock.origin.duration(to: $0) } }
    }
    /// The request message's NATS headers, kept as received (read only when asked for).
    var requestHeaderStorage: TransportMessage.HeaderStorage = .dictionary([:])

    /// The request message's NATS headers (first value of each); empty for Hemera 7 callers, which
    /// send none.
    public var requestHeaders: [String: String] { requestHeaderStorage.dictionary }
    /// When the request was received: the start of its processing time (`$SRV.STATS`).
    var receivedAt: ContinuousClock.Instant { ContextClock.origin.advanced(by: receivedOffset) }
    /// Where the service keeps this request's reply subject while it runs (`RunningReplies`).
    var replySlot = Hemera.ReplySlot.none

    // The two instants are stored as `Duration`s from a fixed instant. `ContinuousClock.Instant` is
    // a resilient type: its size is known only at run time, and so was this struct's. Every copy of
    // a context then went through value-witness calls, and every async frame holding one was
    // allocated from the task (issue 12: a context is copied several times per request, on both
    // sides). `Duration` is frozen, so the context has a fixed layout.
    private var deadlineOffset: Duration?
    private let receivedOffset: Duration

    init(
        pattern: JSONValue,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        subject: String,
        replyTo: String?,
        hemera: Hemera,
        payload: [UInt8],
        rawTrace: Range<Int>?,
        rawRequest: Range<Int>?,
        deadline: ContinuousClock.Instant? = nil,
        requestHeaderStorage: TransportMessage.HeaderStorage = .dictionary([:])
    ) {
        self.pattern = pattern
        self.meta = meta
        self.delegate = delegate
        self.subject = subject
        self.replyTo = replyTo
        self.hemera = hemera
        self.payload = payload
        self.rawTrace = rawTrace
        self.rawRequest = rawRequest
        self.requestHeaderStorage = requestHeaderStorage
        let origin = ContextClock.origin
        self.deadlineOffset = deadline.map { origin.duration(to: $0) }
        self.receivedOffset = origin.duration(to: .now)
    }

    /// The context of the handler running in the current task, if any.
    @TaskLocal public static var current: HemeraContext?
}

/// The fixed instant a context's instants are stored from (the first use in the process).
enum ContextClock {
    static let origin = ContinuousClock.now
}
