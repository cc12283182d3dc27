internal import CNats
internal import HemeraLocks
internal import Logging
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Something that happened to a connection, delivered by ``NATSConnection/events``.
public enum NATSConnectionEvent: Sendable, Hashable {
    /// The first connect succeeded after ``NATSOptions/retryOnFailedConnect`` made it asynchronous.
    case connected
    /// The connection to the server was lost; cnats reconnects unless reconnect is off.
    case disconnected
    /// The connection was re-established, to the given server URL.
    case reconnected(url: String?)
    /// The connection is closed for good. Always the last event.
    case closed
    /// The server entered lame duck mode and will soon close the connection.
    case lameDuckMode
    /// The server announced other servers of its cluster (all known URLs).
    case discoveredServers([String])
    /// An asynchronous error, such as ``NATSError/Code/slowConsumer`` or a permissions violation
    /// (``NATSError/Code/notPermitted``), with the subject of the subscription involved, if any.
    case error(NATSError, subject: String?)
}

/// The events of a connection as an `AsyncSequence`; each value of ``NATSConnection/events`` is an
/// independent sequence that sees the events after its creation and ends after ``NATSConnectionEvent/closed``.
///
/// Holds the latest 256 events when not consumed fast enough.
public struct NATSConnectionEvents: AsyncSequence, Sendable {
    /// Each element is one connection event.
    public typealias Element = NATSConnectionEvent
    /// The sequence never throws.
    public typealias Failure = Never

    let stream: AsyncStream<NATSConnectionEvent>
    /// Unregisters the sequence from the hub when neither it nor an iterator is left.
    let token: EventSubscriberToken

    /// Iterates the events.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<NATSConnectionEvent>.AsyncIterator
        let token: EventSubscriberToken

        /// The next event, or nil after the connection closed.
        public mutating func next() async -> NATSConnectionEvent? { await self.base.next() }

        /// The next event, or nil after the connection closed.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> NATSConnectionEvent? {
            await self.base.next(isolation: actor)
        }
    }

    /// Starts iterating.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.stream.makeAsyncIterator(), token: self.token)
    }
}

/// Receives cnats' connection callbacks, fans them out to event streams, logs them, and tells the
/// request table about disconnects and the close.
///
/// cnats runs every connection callback on ONE library-wide thread: nothing here blocks (locks are
/// held for a few instructions, continuations are resumed, streams yielded).
///
/// `@unchecked Sendable`: the immutable properties are Sendable; `state` is guarded by its lock.
final class ConnectionEventHub: @unchecked Sendable {
    struct State {
        var subscribers: [Int: AsyncStream<NATSConnectionEvent>.Continuation] = [:]
        var nextSubscriber = 0
        var closed = false
        var closedWaiters: [UnsafeContinuation<Void, Never>] = []
        /// Set by ``NATSConnection/close()`` and ``NATSConnection/drain(timeout:)``: a close asked for.
        var closeRequested = false
        /// Why cnats closed the connection, read in the closed callback.
        var closeReason: NATSError?
        /// Asynchronous errors logged in the current one-second window, and those not logged since
        /// the last logged one.
        var errorLogWindow = ContinuousClock.now
        var errorLogCount = 0
        var suppressedErrorLogs = 0
        /// Called on each (re)connect (the connection sends the publishes it held).
        var onReconnected: (@Sendable () -> Void)?
    }

    /// Asynchronous errors logged per second at most; the others are counted in the next line's
    /// `suppressed` metadata.
    static let errorLogBurst = 10

    let logger: Logger
    let table: RequestTable
    let failRequestsOnDisconnect: Bool
    private let state = PthreadLock(State())

    init(logger: Logger, table: RequestTable, failRequestsOnDisconnect: Bool) {
        self.logger = logger
        self.table = table
        self.failRequestsOnDisconnect = failRequestsOnDisconnect
    }

    func makeEvents() -> NATSConnectionEvents {
        let (stream, continuation) = AsyncStream<NATSConnectionEvent>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let registered: Int? = self.state.withLock { state in
            if state.closed { return nil }
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        if let registered {
            continuation.onTermination = { [weak self] _ in
                self?.unregister(registered)
            }
        } else {
            continuation.yield(.closed)
            continuation.finish()
        }
        return NATSConnectionEvents(stream: stream, token: EventSubscriberToken(hub: self, key: registered))
    }

    func unregister(_ key: Int) {
        _ = self.state.withLock { $0.subscribers.removeValue(forKey: key) }
    }

    /// Sets what runs on each reconnect, on cnats' callback thread: it must not block.
    func setOnReconnected(_ body: @escaping @Sendable () -> Void) {
        self.state.withLock { $0.onReconnected = body }
    }

    var subscriberCount: Int { self.state.withLock { $0.subscribers.count } }

    /// Waits until the closed callback ran.
    func waitUntilClosed() async {
        // Unsafe continuation: stored under the lock and resumed exactly once by `emit(.closed)`
        // (which empties the list), or resumed right here when already closed.
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let alreadyClosed = self.state.withLock { state in
                if state.closed { return true }
                state.closedWaiters.append(continuation)
                return false
            }
            if alreadyClosed { continuation.resume() }
        }
    }

    var isClosed: Bool { self.state.withLock { $0.closed } }

    /// Records that the user closes (or drains) the connection: its close is then not a failure.
    func noteCloseRequested() { self.state.withLock { $0.closeRequested = true } }

    /// Records the connection's last error as the reason of the close (from the closed callback).
    func noteCloseReason(_ reason: NATSError?) { self.state.withLock { $0.closeReason = reason } }

    /// Why the connection closed without being asked to: nil while open, or after a requested close.
    var unexpectedCloseReason: NATSError? {
        self.state.withLock { state in
            guard state.closed, !state.closeRequested else { return nil }
            return state.closeReason ?? NATSError(code: .connectionClosed, message: "connection closed")
        }
    }

    func emit(_ event: NATSConnectionEvent) {
        switch event {
        case .connected:
            self.logger.info("NATS connected")
            self.state.withLock { $0.onReconnected }?()
        case .disconnected:
            if self.state.withLock({ $0.closeRequested }) {
                self.logger.debug("NATS disconnected (closing)")
            } else {
                self.logger.warning("NATS disconnected")
            }
        case .reconnected(let url):
            self.logger.info("NATS reconnected", metadata: ["url": "\(url ?? "?")"])
            self.state.withLock { $0.onReconnected }?()
        case .closed: self.logger.debug("NATS connection closed")
        case .lameDuckMode: self.logger.warning("NATS server entered lame duck mode")
        case .discoveredServers(let servers):
            self.logger.debug("NATS discovered servers", metadata: ["servers": "\(servers)"])
        case .error(let error, let subject):
            // At most `errorLogBurst` lines per second: a flood of refused replies (a peer sending
            // requests with reply subjects this connection may not publish to) must not flood the log.
            let suppressed = self.state.withLock { state -> Int? in
                let now = ContinuousClock.now
                if now - state.errorLogWindow >= .seconds(1) {
                    state.errorLogWindow = now
                    state.errorLogCount = 0
                }
                state.errorLogCount += 1
                guard state.errorLogCount <= Self.errorLogBurst else {
                    state.suppressedErrorLogs += 1
                    return nil
                }
                defer { state.suppressedErrorLogs = 0 }
                return state.suppressedErrorLogs
            }
            if let suppressed {
                var metadata: Logger.Metadata = ["error": "\(error)", "subject": "\(subject ?? "")"]
                if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
                self.logger.error("NATS asynchronous error", metadata: metadata)
            }
        }
        if case .disconnected = event, self.failRequestsOnDisconnect {
            self.table.failAll(with: NATSError(code: .disconnected, message: "connection lost"), close: false)
        }
        if case .closed = event {
            self.table.failAll(with: NATSError(code: .connectionClosed, message: "connection closed"), close: true)
        }
        if case .error(let error, _) = event, let subject = error.deniedPublishSubject {
            // The server refused a publish: the requests sent to that subject get no reply.
            self.table.failRequests(to: subject, with: error)
        }
        let (subscribers, waiters):
            ([AsyncStream<NATSConnectionEvent>.Continuation], [UnsafeContinuation<Void, Never>]) =
                self.state.withLock { state in
                    let subscribers = Array(state.subscribers.values)
                    guard case .closed = event else { return (subscribers, []) }
                    state.closed = true
                    state.subscribers.removeAll()
                    let waiters = state.closedWaiters
                    state.closedWaiters.removeAll()
                    return (subscribers, waiters)
                }
        for subscriber in subscribers {
            subscriber.yield(event)
            if case .closed = event { subscriber.finish() }
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Unregisters an event sequence when it is dropped: the hub holds the stream's continuation, so the
/// stream alone would stay registered (buffering events) until the connection closes.
final class EventSubscriberToken: Sendable {
    let hub: ConnectionEventHub
    let key: Int?

    init(hub: ConnectionEventHub, key: Int?) {
        self.hub = hub
        self.key = key
    }

    deinit {
        if let key { self.hub.unregister(key) }
    }
}

/// Maps the integer passed to cnats' connection callbacks as `closure` to its event hub.
///
/// cnats gives connection callbacks no completion callback, and can run the closed callback after
/// `natsConnection_Destroy` returned, so a retained pointer would have no safe release point.
/// Instead `closure` carries an integer key (never dereferenced); a callback that finds no hub
/// does nothing. The entry is removed by the closed callback (always the last one) or when the
/// connect failed.
enum EventHubRegistry {
    static let hubs = PthreadLock<(next: Int, hubs: [Int: ConnectionEventHub])>((0, [:]))

    static func register(_ hub: ConnectionEventHub) -> Int {
        hubs.withLock { registry in
            registry.next += 1
            registry.hubs[registry.next] = hub
            return registry.next
        }
    }

    static func lookup(_ closure: UnsafeMutableRawPointer?) -> ConnectionEventHub? {
        let key = Int(bitPattern: closure)
        return hubs.withLock { $0.hubs[key] }
    }

    static func remove(_ key: Int) {
        _ = hubs.withLock { $0.hubs.removeValue(forKey: key) }
    }

    /// Installs every connection callback on `options`, with `key` as their closure.
    static func install(key: Int, on options: OpaquePointer, retryOnFailedConnect: Bool) throws(NATSError) {
        let closure = UnsafeMutableRawPointer(bitPattern: key)
        try check(
            natsOptions_SetDisconnectedCB(
                options,
                { _, closure in
                    EventHubRegistry.lookup(closure)?.emit(.disconnected)
                },
                closure
            )
        )
        try check(
            natsOptions_SetReconnectedCB(
                options,
                { nc, closure in
                    guard let hub = EventHubRegistry.lookup(closure) else { return }
                    hub.emit(.reconnected(url: connectedURL(nc).map(NATSRedaction.redact)))
                },
                closure
            )
        )
        try check(
            natsOptions_SetClosedCB(
                options,
                { nc, closure in
                    guard let hub = EventHubRegistry.lookup(closure) else { return }
                    EventHubRegistry.remove(Int(bitPattern: closure))
                    // The connection is closed: cnats no longer writes its error text, so it is
                    // read here (bounded) as the reason, e.g. an "Authorization Violation" that
                    // made cnats give up reconnecting.
                    if let nc {
                        var text: UnsafePointer<CChar>?
                        let status = natsConnection_GetLastError(nc, &text)
                        if status != NATS_OK {
                            let message = text.map { boundedCString($0) } ?? ""
                            hub.noteCloseReason(
                                NATSError(
                                    code: .init(status),
                                    message: message.isEmpty ? String(cString: natsStatus_GetText(status)) : message
                                )
                            )
                        }
                    }
                    hub.emit(.closed)
                },
                closure
            )
        )
        try check(
            natsOptions_SetLameDuckModeCB(
                options,
                { _, closure in
                    EventHubRegistry.lookup(closure)?.emit(.lameDuckMode)
                },
                closure
            )
        )
        try check(
            natsOptions_SetDiscoveredServersCB(
                options,
                { nc, closure in
                    guard let hub = EventHubRegistry.lookup(closure), let nc else { return }
                    var servers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
                    var count: Int32 = 0
                    guard natsConnection_GetDiscoveredServers(nc, &servers, &count) == NATS_OK, let servers else {
                        return
                    }
                    var urls: [String] = []
                    for index in 0..<Int(count) {
                        if let url = servers[index] {
                            urls.append(NATSRedaction.redact(String(cString: url)))
                            free(url)
                        }
                    }
                    free(servers)
                    hub.emit(.discoveredServers(urls))
                },
                closure
            )
        )
        try check(
            natsOptions_SetErrorHandler(
                options,
                { _, sub, status, closure in
                    guard let hub = EventHubRegistry.lookup(closure) else { return }
                    // The text comes from this thread's last error, which cnats sets from its own
                    // copy of the error (`errTxt`) just before calling this handler. The
                    // connection's error buffer (`natsConnection_GetLastError`) is not read: cnats'
                    // reader thread rewrites it while this runs, which tore texts (NUL bytes).
                    var lastStatus = NATS_OK
                    var message = String(cString: natsStatus_GetText(status))
                    if let text = nats_GetLastError(&lastStatus), lastStatus == status {
                        message = NATSRedaction.redact(boundedCString(text))
                    }
                    var subject: String?
                    if let sub, let cSubject = natsSubscription_GetSubject(sub) { subject = String(cString: cSubject) }
                    hub.emit(.error(NATSError(code: .init(status), message: message), subject: subject))
                },
                closure
            )
        )
        if retryOnFailedConnect {
            try check(
                natsOptions_SetRetryOnFailedConnect(
                    options,
                    true,
                    { _, closure in
                        EventHubRegistry.lookup(closure)?.emit(.connected)
                    },
                    closure
                )
            )
        }
    }
}

/// The text at `pointer` up to its NUL or `limit` bytes, with any invalid UTF-8 repaired: for C
/// buffers whose terminator is not guaranteed.
func boundedCString(_ pointer: UnsafePointer<CChar>, limit: Int = 512) -> String {
    var length = 0
    while length < limit && pointer[length] != 0 { length += 1 }
    return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
}

/// The URL of the server `nc` is connected to, if any.
func connectedURL(_ nc: OpaquePointer?) -> String? {
    guard let nc else { return nil }
    var buffer = [CChar](repeating: 0, count: 512)
    guard natsConnection_GetConnectedUrl(nc, &buffer, buffer.count) == NATS_OK, buffer[0] != 0 else { return nil }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
