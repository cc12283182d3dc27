internal import CNats
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How to connect to NATS: servers, identity, reconnect policy, authentication, TLS and write mode.
///
/// ```swift
/// var options = NATSOptions(servers: ["nats://127.0.0.1:4222"])
/// options.name = "billing"
/// options.writeMode = .sendAsap            // lowest latency for lone requests and replies
/// let connection = try await NATSConnection.connect(options)
/// ```
public struct NATSOptions: Sendable {
    /// How published bytes reach the socket.
    ///
    /// Measured on a 2-core VM: with ``sendAsap`` a lone request/reply round trip takes ~42 µs; with
    /// ``buffered(bufferSize:)`` a lone reply may wait up to 1 ms for cnats' flusher (p50 ~999 µs),
    /// but many requests in flight batch into fewer writes (≈1.6× the throughput at 256 in flight).
    ///
    /// Default per role: ``sendAsap`` (the default) for responders and for callers that make one call
    /// at a time; ``buffered(bufferSize:)`` for clients that keep many requests or publishes in flight.
    /// ``coalesced(bufferSize:)`` (opt-in) batches like ``buffered(bufferSize:)`` without its flusher
    /// wait: for services that answer many requests at once.
    public enum WriteMode: Sendable, Hashable {
        /// Write every publish to the socket at once (`natsOptions_SetSendAsap(true)`).
        case sendAsap
        /// Let cnats' flusher batch publishes (it flushes within ~1 ms); `bufferSize` sets cnats' IO
        /// buffer (`natsOptions_SetIOBufSize`), `nil` keeps the library default (32 KiB).
        case buffered(bufferSize: Int? = nil)
        /// Drive the socket from a thread of this connection (cnats' event-loop mode,
        /// `natsOptions_SetEventLoop`) instead of cnats' read loop and flusher, so that everything
        /// published since the last write goes out in one `send`, with no flusher wait:
        /// - a publish made inside a message handler of this connection (a service's reply) is held
        ///   while that subscription has more messages queued, then written by the handler's thread
        ///   when its queue is empty (or after 64 messages): a lone reply leaves at once with one
        ///   `send`, the replies to a burst of requests together (a handler that blocks meanwhile does
        ///   not hold them for more than ~1 ms: the loop thread writes them);
        /// - any other publish made through the connection (a client's request) is written by the
        ///   publishing thread right away when the loop thread sleeps (it has nothing more to read),
        ///   and otherwise left to the loop thread, which writes it after the read it is processing,
        ///   together with everything else published meanwhile. No timer is involved.
        ///
        /// `bufferSize` sets cnats' IO buffer (`natsOptions_SetIOBufSize`: the largest read, and the
        /// buffered size at which a write is requested at once); `nil` keeps 32 KiB.
        ///
        /// Measured on a 2-core VM (docs/performance.md, "Coalesced writes"; medians of 3 runs): a
        /// Hemera service at 256 requests in flight answers 1.39× (one CPU) to 1.58× (two) what it
        /// answers with ``sendAsap``, as much as with a 4 KiB ``buffered(bufferSize:)``; a lone reply
        /// takes 1.5–3 µs more than with ``sendAsap`` (p50, one CPU), against ~920 µs more when
        /// buffered. A client's lone request costs what it costs with ``sendAsap`` (it is written by
        /// its own thread; it used to pay a hop to the loop thread, +9 µs p50 on one CPU).
        ///
        /// Limits: cnats closes the socket (and frees its TLS state) on the thread that closes the
        /// connection. ``NATSConnection/close()`` and dropping the connection run that close on the
        /// loop thread; a close that cnats starts itself (the end of
        /// ``NATSConnection/drain(timeout:)``, reconnect attempts exhausted) can overlap a read in
        /// progress on the loop thread, as with cnats' own libuv and libevent adapters. With TLS, a
        /// record split across reads makes cnats wait for its rest on the loop thread.
        case coalesced(bufferSize: Int? = nil)
    }

    /// Authentication with the server.
    public enum Authentication: Sendable, Hashable {
        /// No credentials.
        case none
        /// User and password (`natsOptions_SetUserInfo`).
        case userPassword(user: String, password: String)
        /// A token (`natsOptions_SetToken`).
        case token(String)
        /// An NKey: the public user key and the path of a file holding its seed
        /// (`natsOptions_SetNKeyFromSeed`).
        case nkey(publicKey: String, seedFile: String)
        /// A creds file with the user JWT and NKey seed (`natsOptions_SetUserCredentialsFromFiles`);
        /// `seedFile` is only needed when the seed is in a separate file.
        case credentials(file: String, seedFile: String? = nil)

        /// Whether the client signs the server's nonce (NKey and creds authentication).
        ///
        /// cnats 3.4.1 sends no signature when the signature's first byte is zero (its base64
        /// encoder stops at a leading zero byte; fixed upstream in nats.c #705, after 3.4.1), so one
        /// connect in 256 fails with "Authorization Violation". ``NATSConnection/connect(_:logger:)``
        /// retries such a connect with a new nonce.
        var signsNonce: Bool {
            switch self {
            case .nkey, .credentials: true
            case .none, .userPassword, .token: false
            }
        }
    }

    /// TLS settings. Setting ``NATSOptions/tls`` (even to an empty value) requires a secure connection.
    public struct TLS: Sendable, Hashable {
        /// A PEM file of CA certificates to trust (`natsOptions_LoadCATrustedCertificates`).
        public var caFile: String?
        /// A PEM client certificate chain (`natsOptions_LoadCertificatesChain`), with ``clientKeyFile``.
        public var clientCertificateFile: String?
        /// The PEM private key of ``clientCertificateFile``.
        public var clientKeyFile: String?
        /// The host name expected in the server's certificate (`natsOptions_SetExpectedHostname`).
        public var expectedHostname: String?

        /// Creates TLS settings.
        public init(
            caFile: String? = nil,
            clientCertificateFile: String? = nil,
            clientKeyFile: String? = nil,
            expectedHostname: String? = nil
        ) {
            self.caFile = caFile
            self.clientCertificateFile = clientCertificateFile
            self.clientKeyFile = clientKeyFile
            self.expectedHostname = expectedHostname
        }
    }

    /// Server URLs, e.g. `nats://127.0.0.1:4222` (`natsOptions_SetServers`).
    public var servers: [String]
    /// The connection name the server shows in its monitoring (`natsOptions_SetName`).
    public var name: String?
    /// How long one connect attempt may take (`natsOptions_SetTimeout`); cnats' default is 2 s.
    public var connectTimeout: Duration = .seconds(2)
    /// Whether to reconnect after a lost connection (`natsOptions_SetAllowReconnect`), on by default.
    public var allowReconnect: Bool = true
    /// Reconnect attempts per server, `nil` for unlimited (`natsOptions_SetMaxReconnect`).
    public var maxReconnectAttempts: Int? = 60
    /// The wait between reconnect attempts to the same server (`natsOptions_SetReconnectWait`).
    public var reconnectWait: Duration = .seconds(2)
    /// Random extra wait added to ``reconnectWait`` (`natsOptions_SetReconnectJitter`), plain and TLS.
    public var reconnectJitter: (plain: Duration, tls: Duration) = (.milliseconds(100), .seconds(1))
    /// Bytes of publishes kept while reconnecting and sent after it; `nil` for 8 MiB (cnats' default).
    ///
    /// With ``queuesRequestsWhileDisconnected`` this is cnats' own reconnect buffer
    /// (`natsOptions_SetReconnectBufSize`), which keeps requests too. Without it (the default),
    /// cnats' buffer is set to 0 bytes, so cnats refuses every publish while reconnecting, at the
    /// write: requests then fail with ``NATSError/Code/disconnected``, and the connection keeps the
    /// other publishes (replies, events) in order within this budget and sends them once reconnected.
    /// Past the budget, a publish fails with ``NATSError/Code/disconnected``.
    public var reconnectBufferSize: Int?

    /// cnats' default reconnect buffer, 8 MiB.
    static let defaultReconnectBufferSize = 8 * 1024 * 1024

    /// Runs between a request's connection check and its publish: tests force a disconnect there.
    var requestWillPublishForTesting: (@Sendable () -> Void)?
    /// Interval between pings to the server (`natsOptions_SetPingInterval`); cnats' default is 2 minutes.
    public var pingInterval: Duration = .seconds(120)
    /// Unanswered pings before the connection is considered stale (`natsOptions_SetMaxPingsOut`).
    public var maxPingsOut: Int = 2
    /// Do not receive our own publishes on our own subscriptions (`natsOptions_SetNoEcho`).
    public var noEcho: Bool = false
    /// Try the servers in the given order instead of shuffling them (`natsOptions_SetNoRandomize`).
    public var noRandomize: Bool = false
    /// Keep retrying when the first connect fails (`natsOptions_SetRetryOnFailedConnect`): ``NATSConnection/connect(_:logger:)``
    /// then returns at once and a ``NATSConnectionEvent/connected`` event follows.
    public var retryOnFailedConnect: Bool = false
    /// Authentication.
    public var authentication: Authentication = .none
    /// TLS settings, `nil` for a plain connection unless the URL scheme is `tls://`.
    public var tls: TLS?
    /// The prefix of inbox subjects made by ``NATSConnection/newInbox()`` and of request reply
    /// subjects (`natsOptions_SetCustomInboxPrefix`); `_INBOX` by default.
    public var inboxPrefix: String = "_INBOX"
    /// How published bytes reach the socket; see ``WriteMode``.
    public var writeMode: WriteMode = .sendAsap
    /// Deliver the messages of all subscriptions on cnats' shared thread pool instead of one thread
    /// per subscription (`natsOptions_UseGlobalMessageDelivery`).
    public var useGlobalMessageDelivery: Bool = false
    /// Default pending limits of new subscriptions (`natsOptions_SetMaxPendingMsgs`); `nil` keeps 65,536.
    public var maxPendingMessages: Int?
    /// Fail requests still waiting for a reply with ``NATSError/Code/disconnected`` as soon as the
    /// connection drops. Off by default: pending requests survive a reconnect (their publishes are
    /// buffered and the reply inbox is resubscribed) and end by reply, timeout or connection close.
    public var failRequestsOnDisconnect: Bool = false

    /// Send requests made while the connection is reconnecting once it is back (cnats keeps their
    /// publishes in its reconnect buffer). Off by default: such a request fails at once with
    /// ``NATSError/Code/disconnected`` and is never sent, because a buffered request reaches the
    /// service only after the reconnect, often after its caller timed out, and the service would
    /// then run work nobody waits for (gRPC's default, "fail fast", for the same reason). cnats
    /// itself refuses the publish (see ``reconnectBufferSize``), so no request slips through in the
    /// instant between a status check and its write. With this on, a queued request carries the time
    /// left when it was made, and may run after its caller gave up.
    public var queuesRequestsWhileDisconnected: Bool = false

    /// Options for the given servers, with defaults for everything else.
    public init(servers: [String] = ["nats://127.0.0.1:4222"]) {
        self.servers = servers
    }

    /// Options for one server URL.
    public init(url: String) {
        self.init(servers: [url])
    }
}

extension NATSOptions.Authentication {
    fileprivate func apply(to options: OpaquePointer) throws(NATSError) {
        switch self {
        case .none:
            break
        case .userPassword(let user, let password):
            try check(natsOptions_SetUserInfo(options, user, password))
        case .token(let token):
            try check(natsOptions_SetToken(options, token))
        case .nkey(let publicKey, let seedFile):
            try check(natsOptions_SetNKeyFromSeed(options, publicKey, seedFile))
        case .credentials(let file, let seedFile):
            if let seedFile {
                try check(natsOptions_SetUserCredentialsFromFiles(options, file, seedFile))
            } else {
                try check(natsOptions_SetUserCredentialsFromFiles(options, file, nil))
            }
        }
    }
}

/// Owns a cnats `natsOptions` object; `deinit` destroys it.
///
/// `@unchecked Sendable` is not claimed: the object stays on the thread that builds and connects.
final class COptions {
    let pointer: OpaquePointer

    /// Builds cnats options from `options`. Callbacks are installed by the caller; `eventLoop` is
    /// required by ``NATSOptions/WriteMode/coalesced(bufferSize:)`` and ignored otherwise.
    init(_ options: NATSOptions, eventLoop: NATSEventLoop? = nil) throws(NATSError) {
        try NATSLibrary.openIfNeeded()
        var raw: OpaquePointer?
        try check(natsOptions_Create(&raw))
        self.pointer = raw!
        try self.apply(options, eventLoop: eventLoop)
    }

    deinit {
        natsOptions_Destroy(self.pointer)
    }

    private func apply(_ options: NATSOptions, eventLoop: NATSEventLoop?) throws(NATSError) {
        let opts = self.pointer
        // natsOptions_SetServers copies the strings; the C array lives for the call only.
        var cStrings = options.servers.map { strdup($0) }
        defer { for pointer in cStrings { free(pointer) } }
        try cStrings.withUnsafeMutableBufferPointer { (buffer) throws(NATSError) in
            try buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                (servers) throws(NATSError) in
                try check(natsOptions_SetServers(opts, servers, Int32(buffer.count)))
            }
        }
        if let name = options.name { try check(natsOptions_SetName(opts, name)) }
        try check(natsOptions_SetTimeout(opts, options.connectTimeout.cMilliseconds))
        try check(natsOptions_SetAllowReconnect(opts, options.allowReconnect))
        try check(natsOptions_SetMaxReconnect(opts, Int32(clamping: options.maxReconnectAttempts ?? -1)))
        try check(natsOptions_SetReconnectWait(opts, options.reconnectWait.cMilliseconds))
        try check(
            natsOptions_SetReconnectJitter(
                opts,
                options.reconnectJitter.plain.cMilliseconds,
                options.reconnectJitter.tls.cMilliseconds
            )
        )
        if options.queuesRequestsWhileDisconnected {
            if let size = options.reconnectBufferSize {
                try check(natsOptions_SetReconnectBufSize(opts, Int32(clamping: size)))
            }
        } else {
            // cnats refuses every publish while reconnecting: see NATSOptions.reconnectBufferSize.
            try check(natsOptions_SetReconnectBufSize(opts, 0))
        }
        try check(natsOptions_SetPingInterval(opts, options.pingInterval.cMilliseconds))
        try check(natsOptions_SetMaxPingsOut(opts, Int32(clamping: options.maxPingsOut)))
        try check(natsOptions_SetNoEcho(opts, options.noEcho))
        try check(natsOptions_SetNoRandomize(opts, options.noRandomize))
        try options.authentication.apply(to: opts)
        if let tls = options.tls {
            try check(natsOptions_SetSecure(opts, true))
            if let ca = tls.caFile { try check(natsOptions_LoadCATrustedCertificates(opts, ca)) }
            if let certificate = tls.clientCertificateFile {
                try check(natsOptions_LoadCertificatesChain(opts, certificate, tls.clientKeyFile))
            }
            if let hostname = tls.expectedHostname { try check(natsOptions_SetExpectedHostname(opts, hostname)) }
        }
        try check(natsOptions_SetCustomInboxPrefix(opts, options.inboxPrefix))
        switch options.writeMode {
        case .sendAsap:
            try check(natsOptions_SetSendAsap(opts, true))
        case .buffered(let size):
            try check(natsOptions_SetSendAsap(opts, false))
            if let size { try check(natsOptions_SetIOBufSize(opts, Int32(clamping: size))) }
        case .coalesced(let size):
            guard let eventLoop else {
                throw NATSError(code: .illegalState, message: "the coalesced write mode needs an event loop")
            }
            try eventLoop.install(on: opts)  // also turns send-asap on: no flusher thread
            if let size { try check(natsOptions_SetIOBufSize(opts, Int32(clamping: size))) }
        }
        try check(natsOptions_UseGlobalMessageDelivery(opts, options.useGlobalMessageDelivery))
        if let pending = options.maxPendingMessages {
            try check(natsOptions_SetMaxPendingMsgs(opts, Int32(clamping: pending)))
        }
    }
}
