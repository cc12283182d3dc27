public import Logging

/// How a ``HemeraGateway`` reads requests and calls services.
public struct GatewayOptions: Sendable {
    /// The largest body read, in bytes; a larger one is answered 413 before any service is
    /// called. 64 KiB by default (NATS' own limit is usually 1 MiB).
    public var maxBodyBytes: Int
    /// The timeout of each act; `nil` takes the Hemera instance's.
    public var timeout: Duration?
    /// Whether `POST /act/{topic}/{cmd}` is served: the JSON body is the rest of the pattern, as
    /// hemera-web did.
    public var servesGenericAct: Bool
    /// The topics `POST /act/{topic}/{cmd}` may call; `nil` allows every topic made of letters,
    /// digits, `-`, `_` and `.` (never `$…` or `_INBOX…` subjects). Others are answered 404.
    public var actTopics: Set<String>?
    /// The `Retry-After` of a 503 answering an `OverloadedError`, in seconds.
    public var overloadRetryAfterSeconds: Int
    /// The `info.title` of the OpenAPI document.
    public var title: String
    /// The `info.version` of the OpenAPI document.
    public var version: String
    /// How long `$SRV.INFO` discovery waits for the services' replies.
    public var discoveryTimeout: Duration
    /// Where the gateway logs failed requests (5xx, with their trace id).
    public var logger: Logger

    /// Creates options; every parameter has a production default.
    public init(
        maxBodyBytes: Int = 64 * 1024,
        timeout: Duration? = nil,
        servesGenericAct: Bool = true,
        actTopics: Set<String>? = nil,
        overloadRetryAfterSeconds: Int = 1,
        title: String = "Hemera gateway",
        version: String = "1.0.0",
        discoveryTimeout: Duration = .milliseconds(500),
        logger: Logger = Logger(label: "hemera-gateway")
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.timeout = timeout
        self.servesGenericAct = servesGenericAct
        self.actTopics = actTopics
        self.overloadRetryAfterSeconds = overloadRetryAfterSeconds
        self.title = title
        self.version = version
        self.discoveryTimeout = discoveryTimeout
        self.logger = logger
    }
}
