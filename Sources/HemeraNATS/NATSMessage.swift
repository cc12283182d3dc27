internal import CNats

/// A message received from NATS: subject, optional reply subject, optional headers and payload bytes.
///
/// The payload is copied once out of the C library's buffer when the message arrives.
public struct NATSMessage: Sendable, Hashable {
    /// The subject the message was published to.
    public var subject: String
    /// The subject to reply to, if the publisher asked for a reply.
    public var replyTo: String?
    /// The message headers, if any.
    public var headers: NATSHeaders?
    /// The payload bytes.
    public var payload: [UInt8]

    /// Creates a message (useful in tests and in-memory transports).
    public init(subject: String, replyTo: String? = nil, headers: NATSHeaders? = nil, payload: [UInt8]) {
        self.subject = subject
        self.replyTo = replyTo
        self.headers = headers
        self.payload = payload
    }

    /// Copies a cnats message. The caller keeps ownership of `message` (and destroys it).
    /// Headers are read from the raw block, or by cnats' functions (counted in `stats`).
    init(copying message: OpaquePointer, stats: RawHeaderStats?) {
        self.init(copying: message, headers: NATSHeaders.read(from: message, stats: stats))
    }

    /// Copies a cnats message whose headers were already read.
    init(copying message: OpaquePointer, headers: NATSHeaders?) {
        self.subject = String(cString: natsMsg_GetSubject(message))
        if let reply = natsMsg_GetReply(message), reply.pointee != 0 {
            self.replyTo = String(cString: reply)
        } else {
            self.replyTo = nil
        }
        self.headers = headers
        let length = Int(natsMsg_GetDataLength(message))
        if length > 0, let data = natsMsg_GetData(message) {
            // Safe: cnats' data pointer holds `length` bytes while the caller keeps `message`.
            // `Array(_:)` of a raw buffer, not `init(unsafeUninitializedCapacity:)`: that one asks
            // the runtime for the array storage's generic metadata on every call (~25 ns, half the
            // copy of a 400-byte envelope, measured).
            self.payload = Array(UnsafeRawBufferPointer(start: data, count: length))
        } else {
            self.payload = []
        }
    }
}
