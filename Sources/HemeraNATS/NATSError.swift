internal import CNats

/// An error from the NATS layer: a matchable ``Code`` and the C library's own text.
///
/// Every `natsStatus` that is not `NATS_OK` becomes a `NATSError` right at the failing call, with
/// the text of `nats_GetLastError` read on the same thread (it is thread-local).
///
/// ```swift
/// do {
///     let reply = try await connection.request(to: "svc.add", payload: bytes, timeout: .seconds(1))
/// } catch let error as NATSError where error.code == .noResponders {
///     // nobody listens on svc.add
/// }
/// ```
public struct NATSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A matchable error code; the raw value is the cnats `natsStatus`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The cnats `natsStatus` value.
        public let rawValue: Int

        /// Wraps a cnats `natsStatus` value.
        public init(rawValue: Int) { self.rawValue = rawValue }

        init(_ status: natsStatus) { self.rawValue = Int(status.rawValue) }

        /// A generic error (`NATS_ERR`).
        public static let generic = Code(NATS_ERR)
        /// A protocol error (`NATS_PROTOCOL_ERROR`).
        public static let protocolError = Code(NATS_PROTOCOL_ERROR)
        /// A network error (`NATS_IO_ERROR`).
        public static let ioError = Code(NATS_IO_ERROR)
        /// The connection is closed (`NATS_CONNECTION_CLOSED`).
        public static let connectionClosed = Code(NATS_CONNECTION_CLOSED)
        /// No server could be reached (`NATS_NO_SERVER`).
        public static let noServer = Code(NATS_NO_SERVER)
        /// The server closed a stale connection (`NATS_STALE_CONNECTION`).
        public static let staleConnection = Code(NATS_STALE_CONNECTION)
        /// TLS wanted by the client but not offered by the server (`NATS_SECURE_CONNECTION_WANTED`).
        public static let secureConnectionWanted = Code(NATS_SECURE_CONNECTION_WANTED)
        /// The server requires TLS (`NATS_SECURE_CONNECTION_REQUIRED`).
        public static let secureConnectionRequired = Code(NATS_SECURE_CONNECTION_REQUIRED)
        /// The connection is disconnected (`NATS_CONNECTION_DISCONNECTED`); also what pending requests
        /// fail with on a disconnect when ``NATSOptions/failRequestsOnDisconnect`` is set.
        public static let disconnected = Code(NATS_CONNECTION_DISCONNECTED)
        /// Authentication failed (`NATS_CONNECTION_AUTH_FAILED`).
        public static let authenticationFailed = Code(NATS_CONNECTION_AUTH_FAILED)
        /// The action is not permitted, e.g. a permissions violation (`NATS_NOT_PERMITTED`).
        public static let notPermitted = Code(NATS_NOT_PERMITTED)
        /// Something was not found (`NATS_NOT_FOUND`).
        public static let notFound = Code(NATS_NOT_FOUND)
        /// A URL without an address (`NATS_ADDRESS_MISSING`).
        public static let addressMissing = Code(NATS_ADDRESS_MISSING)
        /// An invalid subject (`NATS_INVALID_SUBJECT`).
        public static let invalidSubject = Code(NATS_INVALID_SUBJECT)
        /// An invalid argument (`NATS_INVALID_ARG`).
        public static let invalidArgument = Code(NATS_INVALID_ARG)
        /// The subscription is closed or invalid (`NATS_INVALID_SUBSCRIPTION`).
        public static let invalidSubscription = Code(NATS_INVALID_SUBSCRIPTION)
        /// An invalid timeout (`NATS_INVALID_TIMEOUT`).
        public static let invalidTimeout = Code(NATS_INVALID_TIMEOUT)
        /// An illegal state (`NATS_ILLEGAL_STATE`).
        public static let illegalState = Code(NATS_ILLEGAL_STATE)
        /// A subscriber dropped messages (`NATS_SLOW_CONSUMER`).
        public static let slowConsumer = Code(NATS_SLOW_CONSUMER)
        /// The payload exceeds the server's maximum (`NATS_MAX_PAYLOAD`).
        public static let maxPayload = Code(NATS_MAX_PAYLOAD)
        /// More messages than allowed were received (`NATS_MAX_DELIVERED_MSGS`).
        public static let maxDeliveredMessages = Code(NATS_MAX_DELIVERED_MSGS)
        /// Out of memory (`NATS_NO_MEMORY`).
        public static let noMemory = Code(NATS_NO_MEMORY)
        /// A system call failed (`NATS_SYS_ERROR`).
        public static let systemError = Code(NATS_SYS_ERROR)
        /// The operation timed out (`NATS_TIMEOUT`).
        public static let timeout = Code(NATS_TIMEOUT)
        /// A TLS error (`NATS_SSL_ERROR`).
        public static let tlsError = Code(NATS_SSL_ERROR)
        /// Not yet connected; with retry-on-failed-connect this is not a failure (`NATS_NOT_YET_CONNECTED`).
        public static let notYetConnected = Code(NATS_NOT_YET_CONNECTED)
        /// The connection or subscription is draining (`NATS_DRAINING`).
        public static let draining = Code(NATS_DRAINING)
        /// An invalid queue name (`NATS_INVALID_QUEUE_NAME`).
        public static let invalidQueueName = Code(NATS_INVALID_QUEUE_NAME)
        /// No subscriber was listening on the request's subject (`NATS_NO_RESPONDERS`).
        public static let noResponders = Code(NATS_NO_RESPONDERS)

        /// The name of the code, e.g. `timeout`.
        public var description: String {
            if self == .invalidURL { return "Invalid URL" }  // ours, outside cnats' table
            return String(cString: natsStatus_GetText(natsStatus(rawValue: UInt32(truncatingIfNeeded: self.rawValue))))
        }
    }

    /// What went wrong, matchable against the static members of ``Code``.
    public var code: Code
    /// The C library's text for the failure (from `nats_GetLastError`), or a description by this layer.
    public var message: String

    /// Creates an error from a code and a message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "NATSError(\(self.code)): \(self.message)" }

    /// The error for a failed cnats call, with the thread-local `nats_GetLastError` text.
    ///
    /// Must be called on the thread of the failing call, before any `await`.
    init(status: natsStatus) {
        var lastStatus = NATS_OK
        let text = nats_GetLastError(&lastStatus)
        if let text, lastStatus == status {
            // cnats may quote a server URL: never with its credentials.
            self.init(code: Code(status), message: NATSRedaction.redact(boundedCString(text)))
        } else {
            self.init(code: Code(status), message: String(cString: natsStatus_GetText(status)))
        }
    }
}

/// Throws a ``NATSError`` for any status other than `NATS_OK`, reading the C library's text at once.
@inline(__always)
func check(_ status: natsStatus) throws(NATSError) {
    if status != NATS_OK {
        throw NATSError(status: status)
    }
}

extension NATSError {
    /// The subject the server refused a publish to, for a ``Code/notPermitted`` error reporting
    /// nats-server's `Permissions Violation for Publish to "subject"`; `nil` otherwise.
    public var deniedPublishSubject: String? {
        guard self.code == .notPermitted else { return nil }
        let parts = self.message.split(separator: "\"", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].hasSuffix("Publish to ") else { return nil }
        return String(parts[1])
    }
}
