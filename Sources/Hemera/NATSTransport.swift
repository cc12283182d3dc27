public import HemeraNATS
public import Logging
internal import HemeraLocks
import Synchronization

/// The production transport: a `NATSConnection` of HemeraNATS.
///
/// ```swift
/// let hemera = try await Hemera.connect(url: "nats://127.0.0.1:4222", options: HemeraOptions(app: "math"))
/// ```
/// Services decode on cnats' delivery thread (callback subscriptions) and hop to a task only to
/// run the handler; calls use the connection's shared reply subscription.
public final class NATSTransport: HemeraTransport {
    /// The underlying connection.
    public let connection: NATSConnection
    /// Asynchronous errors seen so far (slow consumers, permission violations).
    let faults = PthreadLock(Faults())
    /// Set once a publish was refused: until then a request skips the look-up in `faults` (a
    /// lock and a dictionary look-up, on every request otherwise).
    let anyDenied = DeniedFlag()

    final class DeniedFlag: Sendable {
        let value = Atomic<Bool>(false)
    }
    /// The `Hemera-Timeout` headers sent last, with their value.
    let lastTimeoutHeader = PthreadLock<(milliseconds: Int64, headers: NATSHeaders)?>(nil)

    struct Faults {
        var slowConsumerEvents = 0
        /// Subjects the server refused a publish to, with when (for ``request``); at most
        /// ``maxDeniedSubjects``, as every refused reply subject of a hostile peer lands here.
        var deniedPublishes: [String: ContinuousClock.Instant] = [:]
        /// Refused publishes seen, all of them (for tests: the record above keeps at most 1,024).
        var deniedPublishEvents = 0

        /// How many refused subjects are remembered.
        static let maxDeniedSubjects = 1_024

        mutating func recordDenied(_ subject: String, at now: ContinuousClock.Instant) {
            if deniedPublishes[subject] == nil, deniedPublishes.count >= Self.maxDeniedSubjects {
                // Refusals older than the 30 s they are used for go first; else the oldest half.
                deniedPublishes = deniedPublishes.filter { now - $0.value < .seconds(30) }
                if deniedPublishes.count >= Self.maxDeniedSubjects {
                    let kept = deniedPublishes.sorted { $0.value > $1.value }.prefix(Self.maxDeniedSubjects / 2)
                    deniedPublishes = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
                }
            }
            deniedPublishes[subject] = now
        }
    }

    /// How many refused publish subjects this transport remembers (at most 1,024), for diagnostics.
    public var rememberedDeniedSubjects: Int { faults.withLock { $0.deniedPublishes.count } }

    /// Wraps an open connection; ``close()`` drains it. Watches the connection's events: slow
    /// consumers and permission violations are logged and counted (see ``slowConsumerEvents``),
    /// and a request to a subject the server refuses fails with a permission error, not a timeout.
    public init(connection: NATSConnection) {
        self.connection = connection
        let events = connection.events
        let faults = self.faults
        let anyDenied = self.anyDenied
        let logger = connection.logger
        // Ends with the connection: the events sequence finishes after `.closed`.
        Task.detached {
            for await event in events {
                guard case .error(let error, let subject) = event else { continue }
                switch error.code {
                case .slowConsumer:
                    faults.withLock { $0.slowConsumerEvents += 1 }
                    logger.warning("slow consumer on \(subject ?? "?"): messages were dropped")
                case .notPermitted:
                    if let denied = error.deniedPublishSubject {
                        faults.withLock {
                            $0.deniedPublishEvents += 1
                            $0.recordDenied(denied, at: .now)
                        }
                        // After the record: a request that sees the flag finds the subject.
                        anyDenied.value.store(true, ordering: .releasing)
                    }
                default:
                    break
                }
            }
        }
    }

    /// How many slow-consumer events the connection reported: a subscription's pending limit was
    /// exceeded and messages were dropped by the client library.
    public var slowConsumerEvents: Int { faults.withLock { $0.slowConsumerEvents } }

    /// The permission error for a request to `subject` refused in the last `window`, if any.
    func denial(of subject: String, within window: Duration) -> TransportError? {
        guard anyDenied.value.load(ordering: .acquiring) else { return nil }
        let when = faults.withLock { $0.deniedPublishes[subject] }
        // The clock is read only when there was a refusal: `.now - window` costs a clock read and
        // 128-bit arithmetic, on every request otherwise.
        guard let when, when >= .now - window else { return nil }
        return TransportError(.permissionDenied, "Permissions violation for publish to \"\(subject)\"")
    }

    /// Connects to `url` in the coalesced write mode (`NATSOptions.WriteMode.coalesced(bufferSize:)`:
    /// a burst of replies or requests leaves in one write, a lone one at once from its own thread);
    /// reconnects without limit after losing the server.
    public static func connect(url: String, name: String? = nil, logger: Logger = Logger(label: "hemera.nats"))
        async throws -> NATSTransport
    {
        var options = NATSOptions(url: url)
        options.name = name
        // A service that stops reconnecting is dead until restarted: keep trying (every 2 s with
        // jitter), and restore the subscriptions when the server is back.
        options.maxReconnectAttempts = nil
        // Coalesced writes: a service's replies to the requests of one read leave in one `send`,
        // and a lone request or reply still leaves at once from the thread that makes it (no
        // flusher wait, no hop).
        options.writeMode = .coalesced()
        return NATSTransport(connection: try await NATSConnection.connect(options, logger: logger))
    }

    static func map(_ error: any Error) -> any Error {
        guard let error = error as? NATSError else { return error }
        switch error.code {
        case .timeout: return TransportError(.timeout, error.message)
        case .noResponders: return TransportError(.noResponders, error.message)
        case .connectionClosed: return TransportError(.closed, error.message)
        case .notPermitted: return TransportError(.permissionDenied, error.message)
        case .maxPayload: return TransportError(.payloadTooLarge, error.message)
        case .disconnected, .ioError, .noServer, .staleConnection, .notYetConnected:
            return TransportError(.unavailable, "\(error.code): \(error.message)")
        case .draining: return TransportError(.closed, error.message)
        default: return TransportError(.other, error.description)
        }
    }

    public func publish(to subject: String, payload: [UInt8], replyTo: String?) throws {
        do {
            try connection.publish(to: subject, payload: payload, replyTo: replyTo)
        } catch {
            throw Self.map(error)
        }
    }

    /// ``publish(to:payload:replyTo:)`` of bytes the caller owns (an envelope still in its
    /// writer), copied by cnats into the connection's write buffer before this returns.
    func publish(to subject: String, bytes: UnsafeRawBufferPointer) throws {
        do {
            try connection.publish(to: subject, payload: bytes)
        } catch {
            throw Self.map(error)
        }
    }

    struct Subscription: HemeraTransportSubscription {
        let base: NATSSubscription
        let connection: NATSConnection
        func unsubscribe() throws { try base.unsubscribe() }
        func drain() async throws {
            // A drain waits for the server to confirm it, which a reconnecting connection cannot
            // get: without a server no new message can arrive anyway, so stop at once.
            if !connection.isConnected {
                try base.unsubscribe()
                return
            }
            try await base.drain(timeout: .seconds(10))
        }
    }

    public func subscribe(
        to subject: String,
        queue: String?,
        onMessage: @escaping @Sendable (TransportMessage) -> Void
    ) throws -> any HemeraTransportSubscription {
        do {
            let subscription = try connection.subscribe(to: subject, queue: queue) { message in
                // The headers stay as received: a dictionary is made only if someone reads them all.
                onMessage(
                    TransportMessage(
                        subject: message.subject,
                        replyTo: message.replyTo,
                        payload: message.payload,
                        natsHeaders: message.headers
                    )
                )
            }
            return Subscription(base: subscription, connection: connection)
        } catch {
            throw Self.map(error)
        }
    }

    public func request(to subject: String, payload: [UInt8], timeout: Duration) async throws -> TransportMessage {
        try await request(to: subject, payload: payload, headers: [:], timeout: timeout)
    }

    public func request(
        to subject: String,
        payload: [UInt8],
        headers: [String: String],
        timeout: Duration
    ) async throws -> TransportMessage {
        var natsHeaders: NATSHeaders?
        if !headers.isEmpty {
            var list = NATSHeaders()
            for (name, value) in headers { list[name] = value }
            natsHeaders = list
        }
        return try await request(to: subject, payload: payload, natsHeaders: natsHeaders, timeout: timeout)
    }

    /// A request with the `Hemera-Timeout` header: the headers made directly, with no dictionary
    /// in between (the deadline header goes with every call). Inlined into ``Hemera``'s request:
    /// each async call allocates its frame from the task (issue 12).
    @inline(__always)
    func request(
        to subject: String,
        payload: [UInt8],
        timeoutHeader milliseconds: Int64,
        timeout: Duration
    ) async throws -> TransportMessage {
        // Most calls send the same value (the default timeout): the last headers are reused.
        let cached = lastTimeoutHeader.withLock { $0 }
        let headers: NATSHeaders
        if let cached, cached.milliseconds == milliseconds {
            headers = cached.headers
        } else {
            var made = NATSHeaders()
            made[HemeraHeaders.timeout] = String(milliseconds)
            headers = made
            lastTimeoutHeader.withLock { $0 = (milliseconds, made) }
        }
        return try await request(to: subject, payload: payload, natsHeaders: headers, timeout: timeout)
    }

    @inline(__always)
    func request(
        to subject: String,
        payload: [UInt8],
        natsHeaders: NATSHeaders?,
        timeout: Duration
    ) async throws -> TransportMessage {
        // A subject refused in the last 30 s fails before publishing. A refusal during the wait
        // ends the call in the NATS layer, whose request table fails the requests to that subject
        // with `.notPermitted` as soon as the server reports it.
        if let denied = denial(of: subject, within: .seconds(30)) { throw denied }
        do {
            let reply = try await connection.request(
                to: subject,
                payload: payload,
                headers: natsHeaders,
                timeout: timeout
            )
            return TransportMessage(subject: reply.subject, replyTo: reply.replyTo, payload: reply.payload)
        } catch {
            throw Self.map(error)
        }
    }

    public func requestMany(
        to subject: String,
        payload: [UInt8],
        timeout: Duration,
        maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error> {
        requestMany(to: subject, payload: payload, headers: [:], timeout: timeout, maxReplies: maxReplies)
    }

    public func requestMany(
        to subject: String,
        payload: [UInt8],
        headers: [String: String],
        timeout: Duration,
        maxReplies: Int?
    ) -> AsyncThrowingStream<TransportMessage, any Error> {
        var natsHeaders: NATSHeaders?
        if !headers.isEmpty {
            var list = NATSHeaders()
            for (name, value) in headers { list[name] = value }
            natsHeaders = list
        }
        let replies = connection.requestMany(
            to: subject,
            payload: payload,
            headers: natsHeaders,
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

    public func flush(timeout: Duration) async throws {
        // Without a server nothing can be flushed: fail at once instead of waiting out `timeout`.
        if !connection.isConnected && !connection.isClosed {
            throw TransportError(.unavailable, "not connected to a server: nothing can be flushed")
        }
        do {
            try await connection.flush(timeout: timeout)
        } catch {
            throw Self.map(error)
        }
    }

    /// Drains the connection (its pending calls, then its subscriptions), closing it.
    public func close() async {
        if connection.isClosed { return }
        // A drain needs the server; while reconnecting, close at once (SIGTERM during an outage
        // must not wait out the drain and flush timeouts).
        if !connection.isConnected {
            await connection.close()
            return
        }
        do {
            try await connection.drain(timeout: .seconds(10))
        } catch {
            connection.logger.warning("drain failed, closing: \(error)")
            await connection.close()
        }
    }
}

/// Runs `body` with a Hemera instance connected to NATS at `url`; closes it gracefully afterwards
/// (drains the service subscriptions, finishes in-flight handlers, then drains the connection).
///
/// ```swift
/// try await withHemera(url: "nats://127.0.0.1:4222", options: HemeraOptions(app: "math")) { hemera in
///     try hemera.add(AddAction())
///     try await Task.sleep(for: .seconds(60))
/// }
/// ```
public func withHemera<Result: Sendable>(
    url: String,
    options: HemeraOptions = HemeraOptions(),
    _ body: (Hemera) async throws -> Result
) async throws -> Result {
    let hemera = try await Hemera.connect(url: url, options: options)
    do {
        let result = try await body(hemera)
        await hemera.close()
        return result
    } catch {
        await hemera.close()
        throw error
    }
}
