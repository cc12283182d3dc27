import HemeraNATS

/// A message as the transport delivers it.
public struct TransportMessage: Sendable {
    /// The subject it was published to.
    public var subject: String
    /// Where replies go, if anywhere.
    public var replyTo: String?
    /// The bytes.
    public var payload: [UInt8]
    /// NATS headers (first value of each); empty when the message has none. Hemera 7 peers send
    /// none and ignore them.
    public var headers: [String: String] {
        get { headerStorage.dictionary }
        set { headerStorage = .dictionary(newValue) }
    }

    /// The headers as they arrived: a NATS message's are turned into a dictionary only when
    /// ``headers`` is read (a service reads one header of every message, see ``header(_:)``).
    enum HeaderStorage: Sendable {
        case dictionary([String: String])
        case nats(NATSHeaders)

        /// The first value of `name`, with no dictionary made.
        subscript(name: String) -> String? {
            switch self {
            case .dictionary(let headers): return headers.isEmpty ? nil : headers[name]
            case .nats(let received): return received[name]
            }
        }

        /// The first value of each header.
        var dictionary: [String: String] {
            switch self {
            case .dictionary(let headers): return headers
            case .nats(let received):
                var headers: [String: String] = [:]
                for name in received.names { headers[name] = received[name] }
                return headers
            }
        }
    }

    var headerStorage: HeaderStorage

    /// Creates a message.
    public init(subject: String, replyTo: String?, payload: [UInt8], headers: [String: String] = [:]) {
        self.subject = subject
        self.replyTo = replyTo
        self.payload = payload
        self.headerStorage = .dictionary(headers)
    }

    /// A message with a NATS message's headers, kept as they are.
    init(subject: String, replyTo: String?, payload: [UInt8], natsHeaders: NATSHeaders?) {
        self.subject = subject
        self.replyTo = replyTo
        self.payload = payload
        if let natsHeaders, !natsHeaders.isEmpty {
            headerStorage = .nats(natsHeaders)
        } else {
            headerStorage = .dictionary([:])
        }
    }

    /// The first value of the header `name` (case-sensitive), with no dictionary made.
    func header(_ name: String) -> String? { headerStorage[name] }
}

/// Why a transport call failed.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable, Equatable {
        case timeout, noResponders, closed, other
        /// The server refused a publish or subscribe (a permissions violation).
        case permissionDenied
        /// The message is larger than the server's maximum payload.
        case payloadTooLarge
        /// The transport is not connected (reconnecting): the message was not sent.
        case unavailable
    }

    /// What kind of failure.
    public var code: Code
    /// A readable explanation.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// A live subscription of a transport.
public protocol HemeraTransportSubscription: Sendable {
    /// Stops delivery at once.
    func unsubscribe() throws
    /// Stops taking new messages and returns when the ones already received were handed to the
    /// callback.
    func drain() async throws
}

/// What Hemera needs from a message transport: NATS in production (``NATSTransport``), or
/// ``InMemoryTransport`` for unit tests without a server.
public protocol HemeraTransport: Sendable {
    /// Publishes a message, optionally with a reply subject.
    func publish(to subject: String, payload: [UInt8], replyTo: String?) throws
    /// Subscribes with a callback that runs on a delivery thread: it must not block.
    func subscribe(
        to subject: String,
        queue: String?,
        onMessage: @escaping @Sendable (TransportMessage) -> Void
    ) throws -> any HemeraTransportSubscription
    /// Sends a request and waits for the first reply.
    ///
    /// - Throws: ``TransportError`` with `.noResponders` at once when nobody listens, `.timeout`.
    func request(to subject: String, payload: [UInt8], timeout: Duration) async throws -> TransportMessage
    /// Sends a request with headers (the deadline header of nested acts) and waits for the first
    /// reply. The default implementation drops the headers.
    func request(
        to subject: String,
        payload: [UInt8],
        headers: [String: String],
        timeout: Duration
    ) async throws -> TransportMessage
    /// Sends a request and yields replies until `maxReplies` arrived or the timeout passed; the
    /// sequence then finishes, or throws `.timeout` if no reply came at all.
    func requestMany(
        to subject: String,
        payload: [UInt8],
        timeout: Duration,
        maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error>
    /// ``requestMany(to:payload:timeout:maxReplies:)`` with NATS headers (Hemera's stream-end
    /// request header). The default implementation drops the headers.
    func requestMany(
        to subject: String,
        payload: [UInt8],
        headers: [String: String],
        timeout: Duration,
        maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error>
    /// Waits until everything published so far reached the server.
    func flush(timeout: Duration) async throws
    /// Closes the transport gracefully.
    func close() async
}

extension HemeraTransport {
    /// Sends the request without its headers (for transports that have none): a streaming
    /// service then sends no end marker, and the stream ends by count or timeout.
    public func requestMany(
        to subject: String,
        payload: [UInt8],
        headers: [String: String],
        timeout: Duration,
        maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error> {
        requestMany(to: subject, payload: payload, timeout: timeout, maxReplies: maxReplies)
    }

    /// Sends the request without its headers (for transports that have none).
    public func request(
        to subject: String,
        payload: [UInt8],
        headers: [String: String],
        timeout: Duration
    ) async throws -> TransportMessage {
        try await request(to: subject, payload: payload, timeout: timeout)
    }
}
