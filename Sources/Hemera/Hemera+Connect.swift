public import HemeraNATS
import Logging

extension Hemera {
    /// What ``Hemera/connect(_:options:firstConnect:)`` does when no server answers the first
    /// connect (a service started before its nats-server, as in a `docker compose up`).
    public struct FirstConnect: Sendable {
        /// How long to keep trying; `nil` for as long as it takes (until the task is cancelled).
        public var timeout: Duration?
        /// The first pause between attempts; each pause doubles, up to ``maxRetryInterval``.
        public var retryInterval: Duration
        /// The longest pause between attempts.
        public var maxRetryInterval: Duration
        let waits: Bool

        /// Keep trying until a server answers (the default): the first failed attempt is logged as
        /// a warning that says the service is waiting, the connect after it at `info`. Cancelling the
        /// task (SIGTERM under a `ServiceGroup`) ends the wait with `CancellationError`.
        public static let waitForServer = FirstConnect(
            timeout: nil,
            retryInterval: .milliseconds(250),
            maxRetryInterval: .seconds(2),
            waits: true
        )

        /// Keep trying for at most `timeout`, then throw the last connect error.
        public static func waitForServer(
            timeout: Duration,
            retryInterval: Duration = .milliseconds(250),
            maxRetryInterval: Duration = .seconds(2)
        ) -> FirstConnect {
            FirstConnect(
                timeout: timeout,
                retryInterval: retryInterval,
                maxRetryInterval: maxRetryInterval,
                waits: true
            )
        }

        /// Throw at once when no server answers (command-line tools, tests).
        public static let failImmediately = FirstConnect(
            timeout: .zero,
            retryInterval: .zero,
            maxRetryInterval: .zero,
            waits: false
        )
    }

    /// Connects to NATS with full connection options and returns an instance that owns the
    /// connection (``close(gracePeriod:)`` drains and closes it).
    ///
    /// ```swift
    /// var nats = NATSOptions(servers: ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"])
    /// nats.name = "inventory"                       // shown by the server's monitoring
    /// nats.authentication = .credentials(file: "/run/secrets/inventory.creds")
    /// nats.tls = NATSOptions.TLS(caFile: "/etc/ssl/nats-ca.pem")
    /// nats.maxReconnectAttempts = nil               // never give up reconnecting
    /// let hemera = try await Hemera.connect(nats, options: HemeraOptions(app: "inventory"))
    /// ```
    ///
    /// Every server URL is checked first: a malformed one throws `NATSError` with code
    /// `NATSError.Code.invalidURL` at once, whatever `firstConnect` says. Authentication and TLS
    /// failures are thrown at once too; only "no server answered" is waited out.
    ///
    /// - Parameters:
    ///   - nats: servers, authentication (user and password, token, NKey, creds file), TLS, the
    ///     connection name, the reconnect policy (`NATSOptions.maxReconnectAttempts`, 60 per server
    ///     unless changed; `nil` keeps trying), the write mode. With
    ///     `NATSOptions.retryOnFailedConnect` cnats' own retry applies instead: `connect` returns
    ///     at once and the connection connects later.
    ///   - options: the instance's settings; ``HemeraOptions/logger`` also receives the connection's
    ///     events.
    ///   - firstConnect: what to do while no server answers; ``FirstConnect/waitForServer`` by default.
    /// - Throws: `NATSError` (`.invalidURL`, `.noServer`, `.authenticationFailed`, `.tlsError`, …), or
    ///   `CancellationError` when the task is cancelled while waiting.
    public static func connect(
        _ nats: NATSOptions,
        options: HemeraOptions = HemeraOptions(),
        firstConnect: FirstConnect = .waitForServer
    ) async throws -> Hemera {
        let connection = try await connectWaiting(nats, logger: options.logger, firstConnect: firstConnect)
        return Hemera(transport: NATSTransport(connection: connection), options: options, closeTransport: true)
    }

    /// Connects to NATS at `url` and returns an instance that owns the connection (closed by
    /// ``close(gracePeriod:)``): a connection in the coalesced write mode
    /// (`NATSOptions.WriteMode.coalesced(bufferSize:)`: a burst of replies or requests leaves in one
    /// write, a lone one at once from its own thread) named after ``HemeraOptions/app`` that never stops
    /// reconnecting. ``connect(_:options:firstConnect:)`` takes every other connection option.
    ///
    /// - Throws: `NATSError` (`.invalidURL` for a malformed URL), or `CancellationError`.
    public static func connect(
        url: String,
        options: HemeraOptions = HemeraOptions(),
        firstConnect: FirstConnect = .waitForServer
    ) async throws -> Hemera {
        var nats = NATSOptions(url: url)
        nats.name = options.app
        // A service that stops reconnecting is dead until restarted: keep trying.
        nats.maxReconnectAttempts = nil
        // Coalesced writes, as NATSTransport.connect(url:): measured in docs/performance.md (issue 12).
        nats.writeMode = .coalesced()
        return try await connect(nats, options: options, firstConnect: firstConnect)
    }

    /// `NATSConnection.connect(_:logger:)`, retried while no server answers, as `firstConnect` says.
    static func connectWaiting(
        _ nats: NATSOptions,
        logger: Logger,
        firstConnect: FirstConnect
    ) async throws -> NATSConnection {
        let clock = ContinuousClock()
        let start = clock.now
        var pause = firstConnect.retryInterval
        var attempts = 0
        while true {
            attempts += 1
            do {
                let connection = try await NATSConnection.connect(nats, logger: logger)
                if attempts > 1 {
                    logger.info(
                        "NATS server reached, connected",
                        metadata: ["attempts": "\(attempts)", "waited": "\(clock.now - start)"]
                    )
                }
                return connection
            } catch let error as NATSError where firstConnect.waits && Self.isServerMissing(error) {
                if let timeout = firstConnect.timeout, clock.now - start + pause > timeout { throw error }
                if attempts == 1 {
                    logger.warning(
                        "No NATS server answers yet; waiting for one (Hemera.connect's firstConnect: .failImmediately fails instead)",
                        metadata: ["servers": "\(nats.servers.map(NATSServerURL.redacted))", "error": "\(error)"]
                    )
                } else {
                    logger.debug("still no NATS server", metadata: ["attempts": "\(attempts)"])
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, firstConnect.maxRetryInterval)
            }
        }
    }

    /// Whether a connect failed because no server answered (rather than a refusal or bad options).
    static func isServerMissing(_ error: NATSError) -> Bool {
        error.code == .noServer || error.code == .timeout || error.code == .ioError
    }
}
