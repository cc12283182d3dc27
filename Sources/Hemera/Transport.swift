/// A message as the transport delivers it.
public struct TransportMessage: Sendable {
    /// The subject it was published to.
    public var subject: String
    /// Where replies go, if anywhere.
    public var replyTo: String?
    /// The bytes.
    public var payload: [UInt8]

    /// Creates a message.
    public init(subject: String, replyTo: String?, payload: [UInt8]) {
        self.subject = subject
        self.replyTo = replyTo
        self.payload = payload
    }
}

/// Why a transport call failed.
public struct TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable, Equatable {
        case timeout, noResponders, closed, other
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
        to subject: String, queue: String?, onMessage: @escaping @Sendable (TransportMessage) -> Void
    ) throws -> any HemeraTransportSubscription
    /// Sends a request and waits for the first reply.
    ///
    /// - Throws: ``TransportError`` with `.noResponders` at once when nobody listens, `.timeout`.
    func request(to subject: String, payload: [UInt8], timeout: Duration) async throws -> TransportMessage
    /// Sends a request and yields replies until `maxReplies` arrived or the timeout passed; the
    /// sequence then finishes, or throws `.timeout` if no reply came at all.
    func requestMany(
        to subject: String, payload: [UInt8], timeout: Duration, maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error>
    /// Waits until everything published so far reached the server.
    func flush(timeout: Duration) async throws
    /// Closes the transport gracefully.
    func close() async
}
