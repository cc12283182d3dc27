public import HemeraJSON
internal import HemeraLocks
internal import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The NATS services API (ADR-32, "micro"): every Hemera instance that adds actions answers
// `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` (and their `.<name>` and `.<name>.<id>` forms), so
// `nats micro ls`, `hemera services` and any other services client can list it. Each action is
// an endpoint whose metadata holds its pattern and the JSON Schema of its request.

/// How a Hemera instance presents itself in the NATS services API (ADR-32): `$SRV.PING`,
/// `$SRV.INFO` and `$SRV.STATS`.
///
/// ```swift
/// var options = HemeraOptions(app: "cart")
/// options.service = HemeraServiceOptions(name: "cart", version: "1.2.0", description: "The shop's cart")
/// ```
public struct HemeraServiceOptions: Sendable {
    /// The service's name: letters, digits, `-` and `_` only (ADR-32). `nil` takes the
    /// instance's ``HemeraOptions/app`` with every other character replaced by `_`.
    public var name: String?
    /// The service's version, a semantic version (`1.0.0`, `2.1.0-beta.1`).
    public var version: String
    /// A description shown by services clients.
    public var description: String
    /// Free-form metadata of the service (ADR-32 `metadata`).
    public var metadata: [String: String]
    /// Whether the instance answers the services API once it has actions (on by default).
    public var isEnabled: Bool

    /// Creates the options.
    public init(
        name: String? = nil,
        version: String = "0.0.0",
        description: String = "",
        metadata: [String: String] = [:],
        isEnabled: Bool = true
    ) {
        self.name = name
        self.version = version
        self.description = description
        self.metadata = metadata
        self.isEnabled = isEnabled
    }

    /// Whether `name` is a valid ADR-32 service or endpoint name: one or more letters, digits, `-`
    /// and `_`.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isNameByte)
    }

    /// Whether `version` is a semantic version (semver.org 2.0.0), as ADR-32 requires.
    public static func isValidVersion(_ version: String) -> Bool {
        semverRegex.map { (try? $0.wholeMatch(in: version)) != nil } ?? false
    }

    /// semver.org's regular expression: core, pre-release, build.
    ///
    /// `nonisolated(unsafe)`: created once and only read; matching does not mutate a `Regex`.
    nonisolated(unsafe) private static let semverRegex = try? Regex(
        #"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"#
            + #"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"#
            + #"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"#
    )

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_")
    }

    /// `text` with every character not allowed in a name replaced by `_`.
    static func sanitizedName(_ text: String) -> String {
        let bytes = text.utf8.map { isNameByte($0) ? $0 : UInt8(ascii: "_") }
        return bytes.isEmpty ? "hemera" : String(decoding: bytes, as: UTF8.self)
    }
}

extension HemeraError.Name {
    /// A setting of ``HemeraOptions`` is not valid (an ADR-32 service name or version).
    public static let invalidOptions: HemeraError.Name = "InvalidOptionsError"
}

/// One action as an ADR-32 endpoint: what `$SRV.INFO` lists and `$SRV.STATS` counts.
final class ServiceEndpoint: Sendable {
    /// The name before de-duplication: topic, `cmd` and other fixed keys joined by `_`.
    let baseName: String
    let subject: String
    let queueGroup: String?
    let metadata: [String: String]
    let requestSchema: JSONValue
    let stats = EndpointStatistics()
    /// The action's swift-metrics handles, when metrics are on.
    let metrics: Observers.ActionMetrics?

    init(
        pattern info: [String: JSONValue],
        subject: String,
        queueGroup: String?,
        observers: Observers? = nil,
        requestSchema: JSONValue
    ) {
        self.subject = subject
        self.queueGroup = queueGroup
        self.requestSchema = requestSchema
        var parts = [subject]
        if case .string(let cmd)? = info["cmd"] { parts.append(cmd) }
        for key in info.keys.sorted() where key != "topic" && (key != "cmd" || info[key]?.stringValue == nil) {
            // `key:value` as in Hemera's method string, written `key-value`; objects left out.
            let text = Pattern.method(of: [key: info[key]!])
            if !text.isEmpty { parts.append(text.replacingColons) }
        }
        baseName = HemeraServiceOptions.sanitizedName(parts.joined(separator: "_"))
        var metadata: [String: String] = [
            "pattern": sortedJSONText(.object(info)),
            "pattern_short": Pattern.method(of: info),
            "request_schema": sortedJSONText(requestSchema),
        ]
        if queueGroup == nil { metadata["pubsub"] = "true" }
        self.metadata = metadata
        metrics = observers?.actionMetrics(action: baseName)
    }
}

extension String {
    fileprivate var replacingColons: String {
        String(decoding: utf8.map { $0 == UInt8(ascii: ":") ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
    }
}

/// The ADR-32 statistics of one endpoint. Every request matched to the action counts, including
/// those refused by validation, the overload limit or an expired deadline.
final class EndpointStatistics: Sendable {
    struct Counts: Sendable {
        var requests: Int64 = 0
        var errors: Int64 = 0
        var lastError = ""
        var processingNanoseconds: Int64 = 0
    }

    let counts = PthreadLock(Counts())

    /// Counts one finished request that started at `start` (when it was received).
    func record(since start: ContinuousClock.Instant, error: HemeraError?) {
        let elapsed = (ContinuousClock.now - start).nanoseconds
        counts.withLock { counts in
            counts.requests &+= 1
            counts.processingNanoseconds &+= elapsed
            if let error {
                counts.errors &+= 1
                counts.lastError = "\(error.name.rawValue): \(error.message)"
            }
        }
    }

    var snapshot: Counts { counts.withLock { $0 } }
}

/// Answers `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` for one Hemera instance once it has actions.
final class ServicesResponder: Sendable {
    private struct State {
        var subscriptions: [any HemeraTransportSubscription] = []
        var started: String?
        var stopped = false
    }

    /// This instance's id (ADR-32 `id`): 22 random characters, like a NUID.
    let id = fastRandomToken(length: 22)
    private let state = PthreadLock(State())

    /// The subjects answered for a service `name`.
    func subjects(name: String) -> [String] {
        ["PING", "INFO", "STATS"].flatMap { verb in
            ["$SRV.\(verb)", "$SRV.\(verb).\(name)", "$SRV.\(verb).\(name).\(id)"]
        }
    }

    /// Subscribes to the services subjects, once; the first ``Hemera/add(_:options:handler:)``
    /// calls it.
    ///
    /// - Throws: ``HemeraError`` `InvalidOptionsError` for a service name or version that ADR-32
    ///   does not allow, or the transport's error.
    func startIfNeeded(_ hemera: Hemera) throws {
        let options = hemera.options.service
        guard options.isEnabled else { return }
        let name = hemera.serviceName
        try state.withLock { state throws in
            guard state.started == nil, !state.stopped else { return }
            if let explicit = options.name, !HemeraServiceOptions.isValidName(explicit) {
                throw HemeraError(
                    name: .invalidOptions,
                    message: "Service name \"\(explicit)\" is not valid: use letters, digits, - and _ only (ADR-32)"
                )
            }
            guard HemeraServiceOptions.isValidVersion(options.version) else {
                throw HemeraError(
                    name: .invalidOptions,
                    message: "Service version \"\(options.version)\" is not a semantic version (ADR-32)"
                )
            }
            var subscriptions: [any HemeraTransportSubscription] = []
            do {
                for subject in subjects(name: name) {
                    let verb = subject.dropFirst(5).prefix { $0 != "." }
                    subscriptions.append(
                        try hemera.transport.subscribe(to: subject, queue: nil) { [weak hemera] message in
                            guard let hemera, let replyTo = message.replyTo else { return }
                            hemera.answerServicesRequest(String(verb), replyTo: replyTo)
                        }
                    )
                }
            } catch {
                for subscription in subscriptions { try? subscription.unsubscribe() }
                throw error
            }
            state.subscriptions = subscriptions
            state.started = rfc3339Now()
        }
    }

    /// When the services API started answering (RFC 3339, UTC), if it did.
    var started: String? { state.withLock { $0.started } }

    /// Stops answering (``Hemera/close(gracePeriod:)``).
    func stop() {
        let subscriptions = state.withLock { state -> [any HemeraTransportSubscription] in
            state.stopped = true
            defer { state.subscriptions = [] }
            return state.subscriptions
        }
        for subscription in subscriptions { try? subscription.unsubscribe() }  // closing: nothing to tell
    }
}

/// Now as RFC 3339 in UTC with nanoseconds, e.g. `2026-12-05T07:40:12.123456789Z`.
func rfc3339Now() -> String {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    var seconds = spec.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
        + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
        + "\(pad(Int(spec.tv_nsec), 9))Z"
}

// MARK: - Replies

extension Hemera {
    /// The ADR-32 name this instance answers to.
    public var serviceName: String {
        options.service.name ?? HemeraServiceOptions.sanitizedName(options.app)
    }

    /// This instance's ADR-32 id (`$SRV.INFO` `id`): unique per instance.
    public var serviceID: String { services.id }

    /// The registered actions as endpoints, oldest first, with their names made unique.
    func serviceEndpoints() -> [(name: String, endpoint: ServiceEndpoint)] {
        let actions = state.withLock { state in state.routers.values.flatMap(\.all).sorted { $0.id < $1.id } }
        var seen: [String: Int] = [:]
        return actions.map { action in
            let base = action.endpoint.baseName
            let count = seen[base, default: 0] + 1
            seen[base] = count
            return (count == 1 ? base : "\(base)_\(count)", action.endpoint)
        }
    }

    /// The `$SRV.<verb>` reply of this instance: `PING`, `INFO` or `STATS`.
    func servicesReply(_ verb: String) -> JSONValue {
        let service = options.service
        var reply: [String: JSONValue] = [
            "name": .string(serviceName),
            "id": .string(services.id),
            "version": .string(service.version),
            "metadata": .object(service.metadata.mapValues(JSONValue.string)),
        ]
        switch verb {
        case "INFO":
            reply["type"] = "io.nats.micro.v1.info_response"
            reply["description"] = .string(service.description)
            reply["endpoints"] = .array(
                serviceEndpoints().map { name, endpoint in
                    var entry: [String: JSONValue] = [
                        "name": .string(name),
                        "subject": .string(endpoint.subject),
                        "metadata": .object(endpoint.metadata.mapValues(JSONValue.string)),
                    ]
                    if let queue = endpoint.queueGroup { entry["queue_group"] = .string(queue) }
                    return .object(entry)
                }
            )
        case "STATS":
            reply["type"] = "io.nats.micro.v1.stats_response"
            reply["started"] = .string(services.started ?? rfc3339Now())
            reply["endpoints"] = .array(
                serviceEndpoints().map { name, endpoint in
                    let counts = endpoint.stats.snapshot
                    var entry: [String: JSONValue] = [
                        "name": .string(name),
                        "subject": .string(endpoint.subject),
                        "num_requests": .integer(counts.requests),
                        "num_errors": .integer(counts.errors),
                        "last_error": .string(counts.lastError),
                        "processing_time": .integer(counts.processingNanoseconds),
                        "average_processing_time": .integer(
                            counts.requests == 0 ? 0 : counts.processingNanoseconds / counts.requests
                        ),
                    ]
                    if let queue = endpoint.queueGroup { entry["queue_group"] = .string(queue) }
                    return .object(entry)
                }
            )
        default:
            reply["type"] = "io.nats.micro.v1.ping_response"
        }
        return .object(reply)
    }

    func answerServicesRequest(_ verb: String, replyTo: String) {
        let payload = Array(sortedJSONText(servicesReply(verb)).utf8)
        do {
            try transport.publish(to: replyTo, payload: payload, replyTo: nil)
        } catch {
            logger.warning("$SRV.\(verb) reply failed: \(error)")
        }
    }
}

// MARK: - Client side: discovery

/// A `$SRV.PING` reply: one running instance of a service.
public struct HemeraServicePing: Codable, Sendable, Equatable {
    /// `io.nats.micro.v1.ping_response`.
    public var type: String
    /// The service's name.
    public var name: String
    /// The instance's id.
    public var id: String
    /// The service's version.
    public var version: String
    /// The service's metadata.
    public var metadata: [String: String]?
}

/// A `$SRV.INFO` reply: one instance of a service and its endpoints.
public struct HemeraServiceInfo: Codable, Sendable, Equatable {
    /// One endpoint: for a Hemera service, one action.
    public struct Endpoint: Codable, Sendable, Equatable {
        /// The endpoint's name, e.g. `cart_addProduct`.
        public var name: String
        /// The subject it listens on (a Hemera action's topic).
        public var subject: String
        /// Its queue group (`nil` for a publish/subscribe action).
        public var queueGroup: String?
        /// For a Hemera action: `pattern` (its fixed keys as JSON text), `pattern_short`
        /// (`cmd:addProduct,topic:cart`) and `request_schema` (JSON Schema text).
        public var metadata: [String: String]?

        /// The action's fixed keys, from the `pattern` metadata.
        public var pattern: JSONValue? {
            metadata?["pattern"].flatMap { try? JSONValue(parsing: Array($0.utf8)) }
        }

        /// The JSON Schema (draft 2020-12) of the action's request, from the `request_schema`
        /// metadata.
        public var requestSchema: JSONValue? {
            metadata?["request_schema"].flatMap { try? JSONValue(parsing: Array($0.utf8)) }
        }

        enum CodingKeys: String, CodingKey {
            case name, subject, metadata
            case queueGroup = "queue_group"
        }
    }

    /// `io.nats.micro.v1.info_response`.
    public var type: String
    /// The service's name.
    public var name: String
    /// The instance's id.
    public var id: String
    /// The service's version.
    public var version: String
    /// The service's description.
    public var description: String
    /// The service's metadata.
    public var metadata: [String: String]?
    /// Its endpoints.
    public var endpoints: [Endpoint]?
}

/// A `$SRV.STATS` reply: one instance's counters per endpoint.
public struct HemeraServiceStats: Codable, Sendable, Equatable {
    /// The counters of one endpoint.
    public struct Endpoint: Codable, Sendable, Equatable {
        /// The endpoint's name.
        public var name: String
        /// The subject it listens on.
        public var subject: String
        /// Its queue group.
        public var queueGroup: String?
        /// Requests handled, including those refused by validation.
        public var numRequests: Int64
        /// Requests answered with an error.
        public var numErrors: Int64
        /// The last error, as `Name: message` (empty when none).
        public var lastError: String
        /// Total time spent on requests, in nanoseconds.
        public var processingTime: Int64
        /// Average time per request, in nanoseconds.
        public var averageProcessingTime: Int64

        enum CodingKeys: String, CodingKey {
            case name, subject
            case queueGroup = "queue_group"
            case numRequests = "num_requests"
            case numErrors = "num_errors"
            case lastError = "last_error"
            case processingTime = "processing_time"
            case averageProcessingTime = "average_processing_time"
        }
    }

    /// `io.nats.micro.v1.stats_response`.
    public var type: String
    /// The service's name.
    public var name: String
    /// The instance's id.
    public var id: String
    /// The service's version.
    public var version: String
    /// When the instance started answering, RFC 3339.
    public var started: String
    /// The service's metadata.
    public var metadata: [String: String]?
    /// Counters per endpoint.
    public var endpoints: [Endpoint]
}

/// The three requests of the NATS services API.
public enum HemeraServicesVerb: String, Sendable, CaseIterable {
    case ping = "PING"
    case info = "INFO"
    case stats = "STATS"
}

extension Hemera {
    /// Sends `$SRV.<verb>` (or `$SRV.<verb>.<name>`, `$SRV.<verb>.<name>.<id>`) and collects every
    /// reply that arrives within `timeout`, as JSON.
    ///
    /// - Parameters:
    ///   - verb: `PING`, `INFO` or `STATS`.
    ///   - name: only instances of this service.
    ///   - id: only this instance (with `name`).
    ///   - timeout: how long to collect replies.
    /// - Returns: the replies, in arrival order; empty when no service answers.
    public func serviceReplies(
        _ verb: HemeraServicesVerb,
        name: String? = nil,
        id: String? = nil,
        timeout: Duration = .seconds(1)
    ) async throws -> [JSONValue] {
        var subject = "$SRV.\(verb.rawValue)"
        if let name {
            subject += ".\(name)"
            if let id { subject += ".\(id)" }
        }
        var replies: [JSONValue] = []
        do {
            for try await message in transport.requestMany(to: subject, payload: [], timeout: timeout, maxReplies: nil)
            {
                replies.append(try JSONValue(parsing: message.payload))
            }
        } catch let error as TransportError where error.code == .timeout || error.code == .noResponders {
            return replies
        }
        return replies
    }

    /// The services that answer `$SRV.PING` within `timeout`, one entry per instance.
    public func pingServices(name: String? = nil, timeout: Duration = .seconds(1)) async throws -> [HemeraServicePing] {
        try await serviceReplies(.ping, name: name, timeout: timeout).map {
            try HemeraJSONDecoder().decode(HemeraServicePing.self, from: $0)
        }
    }

    /// The `$SRV.INFO` of every instance that answers within `timeout`.
    public func serviceInfos(name: String? = nil, timeout: Duration = .seconds(1)) async throws -> [HemeraServiceInfo] {
        try await serviceReplies(.info, name: name, timeout: timeout).map {
            try HemeraJSONDecoder().decode(HemeraServiceInfo.self, from: $0)
        }
    }

    /// The `$SRV.STATS` of every instance that answers within `timeout`.
    public func serviceStats(name: String? = nil, timeout: Duration = .seconds(1)) async throws -> [HemeraServiceStats]
    {
        try await serviceReplies(.stats, name: name, timeout: timeout).map {
            try HemeraJSONDecoder().decode(HemeraServiceStats.self, from: $0)
        }
    }
}
