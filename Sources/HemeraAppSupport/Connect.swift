public import Hemera
import HemeraNATS
public import Logging

/// Connecting the tools to NATS.
public enum HemeraConnect {
    /// The server URL when none is given: `NATS_URL`, else `nats://127.0.0.1:4222`.
    public static var defaultURL: String {
        if let url = environment("NATS_URL"), !url.isEmpty { return url }
        return "nats://127.0.0.1:4222"
    }

    /// Connects to NATS at `url` and returns a Hemera instance that owns the connection
    /// (``Hemera/close()`` drains and closes it).
    public static func connect(url: String, options: HemeraOptions = HemeraOptions()) async throws -> Hemera {
        var natsOptions = NATSOptions(url: url)
        natsOptions.name = options.app
        let connection = try await NATSConnection.connect(natsOptions, logger: options.logger)
        return Hemera(transport: AppNATSTransport(connection: connection), options: options, closeTransport: true)
    }

    /// Runs `body` with a connected instance and closes it gracefully afterwards, also on errors.
    public static func with<Result: Sendable>(
        url: String,
        options: HemeraOptions = HemeraOptions(),
        _ body: (Hemera) async throws -> Result
    ) async throws -> Result {
        let hemera = try await connect(url: url, options: options)
        do {
            let result = try await body(hemera)
            await hemera.close()
            return result
        } catch {
            await hemera.close()
            throw error
        }
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

/// A ``HemeraTransport`` over a ``NATSConnection``.
///
/// Stopgap until the facade's own NATS transport (`NATSTransport`, `Hemera.connect(url:)`) is on
/// the `rpc` branch; same semantics: callback subscriptions on cnats' delivery threads, requests
/// through the connection's shared reply subscription, no-responders and timeouts mapped to
/// ``TransportError``.
final class AppNATSTransport: HemeraTransport {
    let connection: NATSConnection

    init(connection: NATSConnection) {
        self.connection = connection
    }

    static func map(_ error: any Error) -> any Error {
        guard let error = error as? NATSError else { return error }
        switch error.code {
        case .timeout: return TransportError(.timeout, error.message)
        case .noResponders: return TransportError(.noResponders, error.message)
        case .connectionClosed: return TransportError(.closed, error.message)
        default: return error
        }
    }

    func publish(to subject: String, payload: [UInt8], replyTo: String?) throws {
        do {
            try connection.publish(to: subject, payload: payload, replyTo: replyTo)
        } catch {
            throw Self.map(error)
        }
    }

    struct Subscription: HemeraTransportSubscription {
        let base: NATSSubscription
        func unsubscribe() throws { try base.unsubscribe() }
        func drain() async throws { try await base.drain(timeout: .seconds(10)) }
    }

    func subscribe(
        to subject: String,
        queue: String?,
        onMessage: @escaping @Sendable (TransportMessage) -> Void
    ) throws -> any HemeraTransportSubscription {
        do {
            let subscription = try connection.subscribe(to: subject, queue: queue) { message in
                onMessage(
                    TransportMessage(subject: message.subject, replyTo: message.replyTo, payload: message.payload)
                )
            }
            return Subscription(base: subscription)
        } catch {
            throw Self.map(error)
        }
    }

    func request(to subject: String, payload: [UInt8], timeout: Duration) async throws -> TransportMessage {
        do {
            let reply = try await connection.request(to: subject, payload: payload, headers: nil, timeout: timeout)
            return TransportMessage(subject: reply.subject, replyTo: reply.replyTo, payload: reply.payload)
        } catch {
            throw Self.map(error)
        }
    }

    func requestMany(
        to subject: String,
        payload: [UInt8],
        timeout: Duration,
        maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error> {
        let replies = connection.requestMany(
            to: subject,
            payload: payload,
            headers: nil,
            timeout: timeout,
            maxReplies: maxReplies
        )
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await reply in replies {
                        continuation.yield(
                            TransportMessage(subject: reply.subject, replyTo: reply.replyTo, payload: reply.payload)
                        )
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.map(error))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func flush(timeout: Duration) async throws {
        do {
            try await connection.flush(timeout: timeout)
        } catch {
            throw Self.map(error)
        }
    }

    func close() async {
        if connection.isClosed { return }
        do {
            try await connection.drain(timeout: .seconds(10))
        } catch {
            await connection.close()
        }
    }
}
