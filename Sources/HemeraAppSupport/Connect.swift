public import Hemera
public import HemeraNATS
public import Logging

/// Connecting the tools to NATS.
public enum HemeraConnect {
    /// The server URL when none is given: `NATS_URL`, else `nats://127.0.0.1:4222`.
    public static var defaultURL: String {
        if let url = environment("NATS_URL"), !url.isEmpty { return url }
        return "nats://127.0.0.1:4222"
    }

    /// Connects to NATS at `url` and returns a Hemera instance that owns the connection
    /// (`close()` drains and closes it). The facade's own
    /// `Hemera.connect(url:options:firstConnect:)`, except that a tool fails at once when no server
    /// answers (`.failImmediately`) instead of waiting for one as a service does.
    public static func connect(url: String, options: HemeraOptions = HemeraOptions()) async throws -> Hemera {
        try await Hemera.connect(url: url, options: options, firstConnect: .failImmediately)
    }

    /// Connects like ``connect(url:options:)`` (reconnecting without limit), with the given write
    /// mode for the connection (`.coalesced()` for a busy service; see `NATSOptions.WriteMode`).
    public static func connect(
        url: String,
        options: HemeraOptions,
        writeMode: NATSOptions.WriteMode
    ) async throws -> Hemera {
        var nats = NATSOptions(url: url)
        nats.name = options.app
        nats.maxReconnectAttempts = nil
        nats.writeMode = writeMode
        return try await Hemera.connect(nats, options: options, firstConnect: .failImmediately)
    }

    /// What ended a service process's wait.
    public enum Stop: Sendable, Equatable {
        /// SIGTERM or SIGINT, by name.
        case signal(String)
        /// The NATS connection closed for good on its own (cnats gave up reconnecting), with why
        /// (credentials redacted).
        case connectionLost(String)
    }

    /// Waits for SIGTERM or SIGINT, or for `hemera`'s NATS connection to close for good on its own,
    /// whichever comes first. A service process must end on the second (non-zero), or it would live
    /// on without ever serving again.
    public static func waitForSignalOrConnectionLoss(_ hemera: Hemera) async -> Stop {
        guard let connection = (hemera.transport as? NATSTransport)?.connection else {
            return .signal(await TerminationSignal.wait())
        }
        let (stops, continuation) = AsyncStream<Stop>.makeStream()
        // The signal wait cannot be cancelled; it is left waiting when the connection is lost (the
        // process then ends).
        Task { continuation.yield(.signal(await TerminationSignal.wait())) }
        let watcher = Task {
            await connection.waitUntilClosed()
            if let reason = connection.unexpectedCloseReason {
                continuation.yield(.connectionLost(NATSRedaction.redact(reason.description)))
            }
        }
        for await stop in stops {
            watcher.cancel()
            return stop
        }
        return .signal("?")
    }

    /// A logger that prints errors only (the tools' output stays readable).
    public static func quietLogger(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
