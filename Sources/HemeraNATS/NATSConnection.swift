internal import CNats
public import Logging

/// A connection to NATS, built on the official C client (cnats).
///
/// ```swift
/// let connection = try await NATSConnection.connect(NATSOptions(url: server.url))
/// let subscription = try connection.subscribe(to: "greet") { message in
///     // runs on cnats' delivery thread: do not block
///     guard let replyTo = message.replyTo else { return }
///     do {
///         try connection.publish(to: replyTo, payload: Array("hello".utf8))
///     } catch {
///         logger.error("reply failed: \(error)")  // never swallow a failed reply
///     }
/// }
/// let reply = try await connection.request(to: "greet", payload: [], timeout: .seconds(1))
/// await connection.close()
/// ```
///
/// Thread model: cnats' blocking calls (connect, flush, RTT, close, destroy, drain waits) run on
/// dedicated threads, never on Swift's cooperative pool. Requests never use cnats' blocking
/// request functions: they share one wildcard reply subscription per connection and a table of
/// pending calls, resumed straight from cnats' delivery thread.
///
/// Requests and disconnects: a request made while the connection is reconnecting fails at once
/// with ``NATSError/Code/disconnected`` and is not sent (unless
/// ``NATSOptions/queuesRequestsWhileDisconnected``), so no service runs it after its caller gave up.
/// cnats itself refuses it at the write (its reconnect buffer is off), so this holds even for a
/// request published in the very microsecond cnats notices the disconnect. Other publishes made
/// while reconnecting (replies, events) are kept in order and sent after the reconnect, within
/// ``NATSOptions/reconnectBufferSize``.
/// A request sent before a disconnect survives it (the reply subscription is restored on
/// reconnect) and ends by reply, timeout, cancellation or the connection closing
/// (``NATSError/Code/connectionClosed``). With ``NATSOptions/failRequestsOnDisconnect`` those fail
/// at once with ``NATSError/Code/disconnected``.
public final class NATSConnection: Sendable {
    let pointer: SendablePointer
    let hub: ConnectionEventHub
    let table: RequestTable
    /// The reply inbox subscription, owned here (destroyed with the connection).
    let inbox: SendablePointer
    /// The inbox prefix given in the options.
    let inboxPrefix: String
    /// How many headers took cnats' own functions instead of raw blocks (RawHeaders.swift).
    var rawHeaderStats: RawHeaderStats { self.table.rawHeaderStats }
    /// ``NATSOptions/queuesRequestsWhileDisconnected``.
    let queuesRequestsWhileDisconnected: Bool
    /// Publishes other than requests made while reconnecting, nil with
    /// ``NATSOptions/queuesRequestsWhileDisconnected`` (cnats' own buffer keeps everything then).
    let held: HeldPublishes?
    /// Runs between a request's connection check and its publish (tests force a disconnect there).
    let requestWillPublish: (@Sendable () -> Void)?
    /// The logger of this connection's events.
    public let logger: Logger
    /// The thread driving the socket with ``NATSOptions/WriteMode/coalesced(bufferSize:)``, else nil.
    /// Kept alive until `natsConnection_Destroy` returned (cnats holds an unretained pointer to it).
    let eventLoop: NATSEventLoop?

    private init(
        pointer: OpaquePointer,
        inbox: OpaquePointer,
        hub: ConnectionEventHub,
        table: RequestTable,
        options: NATSOptions,
        eventLoop: NATSEventLoop?,
        logger: Logger
    ) {
        self.pointer = SendablePointer(pointer)
        self.inbox = SendablePointer(inbox)
        self.hub = hub
        self.table = table
        self.inboxPrefix = options.inboxPrefix
        self.queuesRequestsWhileDisconnected = options.queuesRequestsWhileDisconnected
        self.held =
            options.queuesRequestsWhileDisconnected
            ? nil : HeldPublishes(limit: options.reconnectBufferSize ?? NATSOptions.defaultReconnectBufferSize)
        self.requestWillPublish = options.requestWillPublishForTesting
        self.eventLoop = eventLoop
        self.logger = logger
        if self.held != nil {
            // The reconnected callback runs on cnats' one callback thread: send from a thread of
            // our own. Weak: the hub outlives the connection object.
            hub.setOnReconnected { [weak self] in
                guard let self else { return }
                spawnDetachedThread { self.releaseHeld() }
            }
        }
    }

    deinit {
        self.hub.noteCloseRequested()
        self.table.failAll(with: NATSError(code: .connectionClosed, message: "connection deallocated"), close: true)
        let connection = self.pointer
        let inbox = self.inbox
        let eventLoop = self.eventLoop
        // Destroying blocks (it closes the socket and joins cnats' threads), and this deinit may run
        // on a cnats thread or on Swift's pool: destroy on a thread of its own.
        spawnDetachedThread {
            // Closed on the loop thread first, so the destroy below only frees. The closure keeps
            // the loop alive until after it.
            eventLoop?.closeConnection(connection)
            natsSubscription_Destroy(inbox.raw)
            natsConnection_Destroy(connection.raw)
            withExtendedLifetime(eventLoop) {}
        }
    }

    /// Connects to NATS.
    ///
    /// The connect runs on a dedicated thread. With ``NATSOptions/retryOnFailedConnect`` it returns
    /// at once even when no server is reachable yet (a ``NATSConnectionEvent/connected`` event follows).
    /// - Parameters:
    ///   - options: servers, authentication, TLS, reconnect policy, write mode.
    ///   - logger: receives connection events (disconnects, reconnects, asynchronous errors).
    /// - Throws: ``NATSError``, e.g. ``NATSError/Code/noServer``, ``NATSError/Code/authenticationFailed``,
    ///   or ``NATSError/Code/invalidURL`` for a malformed server URL (checked before connecting).
    ///
    /// The corresponding C function is `natsConnection_Connect`.
    public static func connect(
        _ options: NATSOptions,
        logger: Logger = Logger(label: "hemera.nats")
    ) async throws -> NATSConnection {
        try NATSServerURL.validate(options.servers)
        let table = RequestTable(inboxPrefix: options.inboxPrefix)
        let hub = ConnectionEventHub(
            logger: logger,
            table: table,
            failRequestsOnDisconnect: options.failRequestsOnDisconnect
        )
        let key = EventHubRegistry.register(hub)
        let eventLoop: NATSEventLoop?
        if case .coalesced = options.writeMode {
            do throws(NATSError) {
                eventLoop = try NATSEventLoop()
            } catch {
                EventHubRegistry.remove(key)
                throw error
            }
        } else {
            eventLoop = nil
        }
        let result: Result<SendablePointer, NATSError> = await onDedicatedThread {
            do throws(NATSError) {
                let cOptions = try COptions(options, eventLoop: eventLoop)
                try EventHubRegistry.install(
                    key: key,
                    on: cOptions.pointer,
                    retryOnFailedConnect: options.retryOnFailedConnect
                )
                var nc: OpaquePointer?
                var status = natsConnection_Connect(&nc, cOptions.pointer)
                // cnats 3.4.1 drops the nonce signature when its first byte is zero (1 connect in
                // 256 with NKey or creds authentication; see `Authentication.signsNonce`): the
                // server's next nonce gives another signature. A refused connect created no
                // connection and attached no event loop (cnats attaches after the CONNECT is
                // accepted), so trying again with the same options is clean. Three more tries
                // leave a wrong key failing after four refusals, a few milliseconds.
                var tries = 1
                while status == NATS_CONNECTION_AUTH_FAILED && options.authentication.signsNonce && tries < 4 {
                    tries += 1
                    nc = nil
                    status = natsConnection_Connect(&nc, cOptions.pointer)
                }
                if status == NATS_NOT_YET_CONNECTED && options.retryOnFailedConnect, let nc {
                    return .success(SendablePointer(nc))
                }
                try check(status)
                return .success(SendablePointer(nc!))
            } catch {
                return .failure(error)
            }
        }
        let nc: SendablePointer
        switch result {
        case .success(let pointer):
            nc = pointer
        case .failure(let error):
            // No connection exists, so no closed callback will come, nor any event-loop callback.
            EventHubRegistry.remove(key)
            eventLoop?.stop()
            throw error
        }
        // The reply inbox: one wildcard subscription whose context is the request table.
        let inbox: OpaquePointer
        do {
            inbox = try subscribeInbox(nc.raw, table: table)
        } catch {
            await onDedicatedThread {
                eventLoop?.closeConnection(nc)
                natsConnection_Destroy(nc.raw)
                withExtendedLifetime(eventLoop) {}
            }
            throw error
        }
        return NATSConnection(
            pointer: nc.raw,
            inbox: inbox,
            hub: hub,
            table: table,
            options: options,
            eventLoop: eventLoop,
            logger: logger
        )
    }

    // MARK: Publishing

    /// Publishes a message.
    ///
    /// With ``NATSOptions/WriteMode/sendAsap`` the bytes go to the socket at once; otherwise cnats'
    /// flusher sends them within ~1 ms (see ``flush(timeout:)``).
    /// - Parameters:
    ///   - subject: the subject to publish to.
    ///   - payload: the bytes.
    ///   - replyTo: a subject for replies, if any.
    ///   - headers: headers, if any.
    /// - Throws: ``NATSError``, e.g. ``NATSError/Code/maxPayload``, ``NATSError/Code/connectionClosed``.
    ///
    /// The corresponding C functions are `natsConnection_Publish`, `natsConnection_PublishRequest`
    /// and `natsConnection_PublishMsg`.
    public func publish(to subject: String, payload: [UInt8], replyTo: String? = nil, headers: NATSHeaders? = nil)
        throws
    {
        try payload.withUnsafeBytes { bytes in
            try self.publish(to: subject, payload: bytes, replyTo: replyTo, headers: headers)
        }
    }

    /// Publishes a message from bytes in place (no copy before cnats' write buffer).
    ///
    /// - Throws: ``NATSError``.
    ///
    /// The corresponding C functions are `natsConnection_Publish`, `natsConnection_PublishRequest`
    /// and `natsConnection_PublishMsg`.
    public func publish(
        to subject: String,
        payload: UnsafeRawBufferPointer,
        replyTo: String? = nil,
        headers: NATSHeaders? = nil
    ) throws {
        guard let held = self.held else {
            try self.publishNow(to: subject, payload: payload, replyTo: replyTo, headers: headers)
            return
        }
        if held.isHolding {
            let message = HeldPublishes.Message(
                subject: subject,
                payload: Array(payload),
                replyTo: replyTo,
                headers: headers
            )
            if try held.holdIfHolding(message) {
                if self.isConnected { self.releaseHeld() }
                return
            }
        }
        do throws(NATSError) {
            try self.publishNow(to: subject, payload: payload, replyTo: replyTo, headers: headers)
        } catch  where error.code.rawValue == Int(NATS_INSUFFICIENT_BUFFER.rawValue) {
            // Reconnecting: cnats keeps nothing (see HeldPublishes), so this connection does.
            try held.hold(
                HeldPublishes.Message(subject: subject, payload: Array(payload), replyTo: replyTo, headers: headers)
            )
            // The reconnect may have completed (and its callback released) since the refusal.
            if self.isConnected { self.releaseHeld() }
        }
    }

    /// Sends the publishes held during a reconnect, in order; logs any that fail otherwise than by
    /// another disconnect (those stay held).
    func releaseHeld() {
        guard let held = self.held else { return }
        let failures = held.release { (message) throws(NATSError) in
            try self.publishNow(
                to: message.subject,
                bytes: message.payload,
                replyTo: message.replyTo,
                headers: message.headers
            )
        }
        for failure in failures {
            self.logger.error("a message kept during the reconnect failed to publish: \(failure)")
        }
    }

    /// The number of publishes held for the reconnect (for tests and diagnostics).
    var heldPublishCount: Int { self.held?.count ?? 0 }

    private func publishNow(to subject: String, bytes: [UInt8], replyTo: String?, headers: NATSHeaders?)
        throws(NATSError)
    {
        let result: Result<Void, NATSError> = bytes.withUnsafeBytes { payload in
            do throws(NATSError) {
                return .success(try self.publishNow(to: subject, payload: payload, replyTo: replyTo, headers: headers))
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    private func publishNow(
        to subject: String,
        payload: UnsafeRawBufferPointer,
        replyTo: String?,
        headers: NATSHeaders?
    ) throws(NATSError) {
        if let replyTo {
            let result: Result<Void, NATSError> = replyTo.withCString { reply in
                do throws(NATSError) {
                    return .success(try self.publish(subject, payload, reply, headers))
                } catch {
                    return .failure(error)
                }
            }
            try result.get()
        } else {
            try self.publish(subject, payload, nil, headers)
        }
    }

    /// Publishes with a C reply subject; reads the C error at once on failure.
    func publish(
        _ subject: String,
        _ payload: UnsafeRawBufferPointer,
        _ reply: UnsafePointer<CChar>?,
        _ headers: NATSHeaders?
    ) throws(NATSError) {
        // `withCString`: a subject of up to 15 bytes (a topic) is handed to C from the stack. The
        // implicit String-to-pointer conversion made an array (`utf8CString`) for every publish.
        let result: Result<Void, NATSError> = subject.withCString { subject in
            do throws(NATSError) {
                return .success(try self.publish(cSubject: subject, payload, reply, headers))
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    private func publish(
        cSubject subject: UnsafePointer<CChar>,
        _ payload: UnsafeRawBufferPointer,
        _ reply: UnsafePointer<CChar>?,
        _ headers: NATSHeaders?
    ) throws(NATSError) {
        let nc = self.pointer.raw
        let length = Int32(clamping: payload.count)
        // Coalesced: this thread writes after the publish if nobody else is about to.
        let mark = self.eventLoop?.beginPublish()
        defer { if let mark { self.eventLoop!.finishPublish(mark) } }
        if let headers, !headers.isEmpty {
            // The header block written here, no header map in cnats; false when cnats must.
            if try self.publishRawHeaders(nc, subject, payload, reply, headers) { return }
            var msg: OpaquePointer?
            try check(
                natsMsg_Create(&msg, subject, reply, payload.baseAddress?.assumingMemoryBound(to: CChar.self), length)
            )
            defer { releaseMessage(msg!) }
            try headers.apply(to: msg!)
            try check(natsConnection_PublishMsg(nc, msg))
        } else if let reply {
            try check(natsConnection_PublishRequest(nc, subject, reply, payload.baseAddress, length))
        } else {
            try check(natsConnection_Publish(nc, subject, payload.baseAddress, length))
        }
    }

    /// Sends everything buffered and waits for the server's acknowledgement (a PING/PONG).
    ///
    /// Runs on a dedicated thread.
    /// - Throws: ``NATSError`` with ``NATSError/Code/timeout`` if no PONG arrived in time.
    ///
    /// The corresponding C function is `natsConnection_FlushTimeout`.
    public func flush(timeout: Duration) async throws {
        let nc = self.pointer
        let milliseconds = timeout.cMilliseconds
        let result: Result<Void, NATSError> = await onDedicatedThread {
            let status = natsConnection_FlushTimeout(nc.raw, milliseconds)
            return status == NATS_OK ? .success(()) : .failure(NATSError(status: status))
        }
        try withExtendedLifetime(self) { try result.get() }
    }

    // MARK: Subscribing

    /// Subscribes to a subject (wildcards allowed), optionally in a queue group.
    ///
    /// Messages arrive through the returned ``NATSSubscription`` (an `AsyncSequence`).
    /// - Parameters:
    ///   - subject: the subject, e.g. `orders.*` or `orders.>`.
    ///   - queue: a queue group: each message goes to one member of the group.
    ///   - bufferLimit: how many messages the sequence holds for a slow consumer before dropping
    ///     new ones (counted in ``NATSSubscription/dropped``).
    /// - Throws: ``NATSError``, e.g. ``NATSError/Code/invalidSubject``.
    ///
    /// The corresponding C functions are `natsConnection_Subscribe` and `natsConnection_QueueSubscribe`.
    public func subscribe(to subject: String, queue: String? = nil, bufferLimit: Int = 65_536) throws
        -> NATSSubscription
    {
        let (stream, continuation) = AsyncStream<NATSMessage>.makeStream(bufferingPolicy: .bufferingOldest(bufferLimit))
        return try self.subscribe(
            subject,
            queue,
            SubscriptionContext(sink: .stream(continuation), headerStats: self.rawHeaderStats),
            stream
        )
    }

    /// Subscribes with a callback that runs synchronously on cnats' delivery thread: the fast path,
    /// with no thread hop per message.
    ///
    /// The callback must not block (no waiting on locks held elsewhere, no blocking I/O): messages of
    /// this subscription wait behind it, and with ``NATSOptions/useGlobalMessageDelivery`` other
    /// subscriptions too. Messages of one subscription are delivered in order, one at a time.
    /// The returned subscription's sequence is empty; use it to unsubscribe or drain.
    ///
    /// The corresponding C functions are `natsConnection_Subscribe` and `natsConnection_QueueSubscribe`.
    public func subscribe(
        to subject: String,
        queue: String? = nil,
        onMessage: @escaping @Sendable (NATSMessage) -> Void
    ) throws -> NATSSubscription {
        try self.subscribe(
            subject,
            queue,
            SubscriptionContext(sink: .callback(onMessage), headerStats: self.rawHeaderStats),
            nil
        )
    }

    private func subscribe(
        _ subject: String,
        _ queue: String?,
        _ context: SubscriptionContext,
        _ stream: AsyncStream<NATSMessage>?
    ) throws(NATSError) -> NATSSubscription {
        var sub: OpaquePointer?
        // passRetained: released exactly once, by `subscriptionCompleted` (cnats' on-complete
        // callback, after the last handler call), or below when subscribing fails.
        let closure = Unmanaged.passRetained(context).toOpaque()
        let status: natsStatus
        if let queue {
            status = natsConnection_QueueSubscribe(&sub, self.pointer.raw, subject, queue, subscriptionHandler, closure)
        } else {
            status = natsConnection_Subscribe(&sub, self.pointer.raw, subject, subscriptionHandler, closure)
        }
        if status != NATS_OK {
            let error = NATSError(status: status)
            // No subscription exists, so no handler can run: release the context now.
            Unmanaged<SubscriptionContext>.fromOpaque(closure).release()
            context.finish()
            throw error
        }
        let completeStatus = natsSubscription_SetOnCompleteCB(sub, subscriptionCompleted, closure)
        if completeStatus != NATS_OK {
            let error = NATSError(status: completeStatus)
            // The subscription closed between the two calls (the connection closed): a last handler
            // call may still be running and nothing will say when it ended, so the context is
            // deliberately leaked (one small object, only on this race) rather than freed under it.
            natsSubscription_Destroy(sub)
            context.finish()
            throw error
        }
        return NATSSubscription(
            pointer: sub!,
            context: context,
            stream: stream,
            connection: self,
            subject: subject,
            queue: queue
        )
    }

    // MARK: Requests

    /// Sends a request and waits for its first reply.
    ///
    /// The reply subject is `<inboxPrefix>.<connection token>.<counter>` on the connection's single
    /// wildcard reply subscription; the reply resumes this call directly from cnats' delivery thread.
    /// - Parameters:
    ///   - subject: the subject of the responder.
    ///   - payload: the request bytes.
    ///   - headers: headers, if any.
    ///   - timeout: how long to wait for the reply.
    /// - Returns: the reply message.
    /// - Throws: ``NATSError`` with ``NATSError/Code/noResponders`` at once when nobody listens,
    ///   ``NATSError/Code/timeout``, ``NATSError/Code/connectionClosed``, a publish error such as
    ///   ``NATSError/Code/maxPayload``; `CancellationError` at once when the task is cancelled.
    public func request(
        to subject: String,
        payload: [UInt8],
        headers: NATSHeaders? = nil,
        timeout: Duration
    ) async throws -> NATSMessage {
        try await self.table.request(subject: subject, timeout: timeout) { (reply) throws(NATSError) in
            try self.checkConnectedForRequest()
            let result: Result<Void, NATSError> = payload.withUnsafeBytes { bytes in
                do throws(NATSError) {
                    return .success(try self.publishRequest(subject, bytes, reply, headers))
                } catch {
                    return .failure(error)
                }
            }
            try result.get()
        }
    }

    /// Sends one request and returns its replies as they arrive: for streaming replies and
    /// scatter/gather.
    ///
    /// The sequence ends normally after `maxReplies` replies, or at the timeout if at least one
    /// reply came. It throws ``NATSError/Code/noResponders`` at once when nobody listens,
    /// ``NATSError/Code/timeout`` when no reply came before the timeout, and
    /// ``NATSError/Code/connectionClosed`` when the connection closes. Ending the iteration (or
    /// cancelling its task) removes the request; later replies are dropped.
    ///
    /// ```swift
    /// for try await reply in connection.requestMany(to: "svc.status", payload: [], timeout: .seconds(1), maxReplies: nil) {
    ///     print(reply.payload)
    /// }
    /// ```
    public func requestMany(
        to subject: String,
        payload: [UInt8],
        headers: NATSHeaders? = nil,
        timeout: Duration,
        maxReplies: Int?
    ) -> NATSReplies {
        let (stream, continuation) = AsyncThrowingStream<NATSMessage, any Error>.makeStream()
        let id = self.table.requestMany(
            subject: subject,
            timeout: timeout,
            maxReplies: maxReplies,
            continuation: continuation
        ) {
            (reply) throws(NATSError) in
            try self.checkConnectedForRequest()
            let result: Result<Void, NATSError> = payload.withUnsafeBytes { bytes in
                do throws(NATSError) {
                    return .success(try self.publishRequest(subject, bytes, reply, headers))
                } catch {
                    return .failure(error)
                }
            }
            try result.get()
        }
        return NATSReplies(stream: stream, token: ManyRepliesToken(connection: self, id: id))
    }

    /// Fails a request made while the connection is (re)connecting, unless
    /// ``NATSOptions/queuesRequestsWhileDisconnected``: its publish would wait in cnats' reconnect
    /// buffer and reach the service after the reconnect, whether or not its caller still waits.
    ///
    /// The status read here only gives the clear error early: a disconnect cnats notices between
    /// this check and the publish is caught by cnats itself, whose reconnect buffer is off (see
    /// ``publishRequest(_:_:_:_:)``).
    @inline(__always)
    func checkConnectedForRequest() throws(NATSError) {
        if self.queuesRequestsWhileDisconnected { return }
        let status = natsConnection_Status(self.pointer.raw)
        if status == NATS_CONN_STATUS_RECONNECTING || status == NATS_CONN_STATUS_CONNECTING
            || status == NATS_CONN_STATUS_DISCONNECTED
        {
            throw Self.requestNotSent
        }
        if let hook = self.requestWillPublish { hook() }
    }

    static let requestNotSent = NATSError(
        code: .disconnected,
        message: "not connected to a server: the request was not sent"
    )

    /// Publishes a request. Unless ``NATSOptions/queuesRequestsWhileDisconnected``, cnats' reconnect
    /// buffer is 0 bytes, so cnats refuses the publish with `NATS_INSUFFICIENT_BUFFER` when it is
    /// reconnecting, decided under its connection lock at the write: no request waits in a buffer
    /// for the reconnect, whenever the disconnect came.
    @inline(__always)
    func publishRequest(
        _ subject: String,
        _ payload: UnsafeRawBufferPointer,
        _ reply: UnsafePointer<CChar>?,
        _ headers: NATSHeaders?
    ) throws(NATSError) {
        do {
            try self.publish(subject, payload, reply, headers)
        } catch  where error.code.rawValue == Int(NATS_INSUFFICIENT_BUFFER.rawValue) && self.held != nil {
            throw Self.requestNotSent
        }
    }

    /// The number of requests waiting for a reply (for tests and diagnostics).
    public var pendingRequestCount: Int { self.table.count }

    /// A new unique inbox subject, `<inboxPrefix>.<22 random characters>`.
    public func newInbox() -> String { "\(self.inboxPrefix).\(randomToken())" }

    // MARK: Shutdown

    /// Drains the connection: waits for this connection's pending requests (until `timeout`), then
    /// drains every subscription (no new messages, queued ones delivered), flushes, and closes.
    ///
    /// For a service, drain its own subscriptions first and publish the replies of running handlers
    /// before draining the connection: once it drains, publishes fail with ``NATSError/Code/draining``.
    /// - Throws: ``NATSError`` with ``NATSError/Code/timeout`` when it did not finish in time (the
    ///   connection is closed anyway).
    ///
    /// The corresponding C function is `natsConnection_DrainTimeout`.
    public func drain(timeout: Duration) async throws {
        self.hub.noteCloseRequested()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while self.table.count > 0 && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
        // cnats' own drain timeout closes the connection without recording that it timed out, so
        // give cnats a generous timeout and enforce ours here: closed in time, or close and throw.
        let remaining = max(deadline - clock.now, .zero)
        try check(natsConnection_DrainTimeout(self.pointer.raw, (remaining + .seconds(5)).cMilliseconds))
        while !self.hub.isClosed && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
        if !self.hub.isClosed {
            await self.close()
            throw NATSError(code: .timeout, message: "drain did not complete within \(timeout)")
        }
    }

    /// Closes the connection at once: pending requests fail with ``NATSError/Code/connectionClosed``,
    /// subscriptions end. Runs cnats' blocking close on a dedicated thread and returns after the
    /// ``NATSConnectionEvent/closed`` event.
    ///
    /// The corresponding C function is `natsConnection_Close`.
    public func close() async {
        self.hub.noteCloseRequested()
        let nc = self.pointer
        let eventLoop = self.eventLoop
        await onDedicatedThread {
            if let eventLoop {
                eventLoop.closeConnection(nc)
            } else {
                natsConnection_Close(nc.raw)
            }
        }
        await self.hub.waitUntilClosed()
    }

    /// Suspends until the connection is closed for good, by ``close()``, ``drain(timeout:)`` or by
    /// cnats itself; returns early when the task is cancelled.
    public func waitUntilClosed() async {
        for await event in self.events {
            if case .closed = event { return }
        }
    }

    /// Why the connection closed for good on its own, not by ``close()`` or ``drain(timeout:)``: nil
    /// while it is open and after a requested close.
    ///
    /// cnats stops reconnecting when the reconnect attempts run out
    /// (``NATSOptions/maxReconnectAttempts``), and, whatever that limit, when a server refuses the
    /// credentials twice in a row (``NATSError/Code/authenticationFailed``, e.g. a password changed
    /// on the server). Such a connection never serves again: a service should end (non-zero) so
    /// that its supervisor restarts it; `HemeraService` does.
    public var unexpectedCloseReason: NATSError? { self.hub.unexpectedCloseReason }

    /// Whether the connection is connected to a server now (also while draining); false while it
    /// reconnects and once it is closed.
    ///
    /// The corresponding C function is `natsConnection_Status`.
    public var isConnected: Bool {
        let status = natsConnection_Status(self.pointer.raw)
        return status == NATS_CONN_STATUS_CONNECTED || status == NATS_CONN_STATUS_DRAINING_SUBS
            || status == NATS_CONN_STATUS_DRAINING_PUBS
    }

    /// Whether the connection is closed.
    ///
    /// The corresponding C function is `natsConnection_IsClosed`.
    public var isClosed: Bool { natsConnection_IsClosed(self.pointer.raw) }

    // MARK: Introspection

    /// The connection's events: disconnects, reconnects, close, lame duck mode, discovered servers
    /// and asynchronous errors. Each access returns a new sequence, which receives the events after
    /// its creation (holding up to 256 unread ones) until the connection closes or the sequence and
    /// its iterator are dropped. Every event is also logged through the connection's `logger`.
    public var events: NATSConnectionEvents { self.hub.makeEvents() }

    /// Measures the round trip time to the server (a PING/PONG), on a dedicated thread.
    ///
    /// The corresponding C function is `natsConnection_GetRTT`.
    public func rtt() async throws -> Duration {
        let nc = self.pointer
        let result: Result<Int64, NATSError> = await onDedicatedThread {
            var nanoseconds: Int64 = 0
            let status = natsConnection_GetRTT(nc.raw, &nanoseconds)
            return status == NATS_OK ? .success(nanoseconds) : .failure(NATSError(status: status))
        }
        return try withExtendedLifetime(self) { .nanoseconds(try result.get()) }
    }

    /// Message and byte counts in and out, and the number of reconnects.
    ///
    /// The corresponding C function is `natsConnection_GetStats`.
    public var statistics: NATSStatistics {
        var stats: OpaquePointer?
        guard natsStatistics_Create(&stats) == NATS_OK, let stats else { return NATSStatistics() }
        defer { natsStatistics_Destroy(stats) }
        var result = NATSStatistics()
        guard natsConnection_GetStats(self.pointer.raw, stats) == NATS_OK else { return result }
        _ = natsStatistics_GetCounts(
            stats,
            &result.inMessages,
            &result.inBytes,
            &result.outMessages,
            &result.outBytes,
            &result.reconnects
        )
        return result
    }

    /// The URL of the server currently connected to, nil when not connected; credentials in it are
    /// redacted (``NATSRedaction``).
    ///
    /// The corresponding C function is `natsConnection_GetConnectedUrl`.
    public var connectedURL: String? { HemeraNATS.connectedURL(self.pointer.raw).map(NATSRedaction.redact) }

    /// The id of the server currently connected to (from its INFO), nil when not connected.
    ///
    /// The corresponding C function is `natsConnection_GetConnectedServerId`.
    public var connectedServerID: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard natsConnection_GetConnectedServerId(self.pointer.raw, &buffer, buffer.count) == NATS_OK, buffer[0] != 0
        else {
            return nil
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The task executor that resumes requests' callers on this connection's reply thread, with no
    /// thread hop; see ``NATSReplyExecutor`` for when to use it:
    /// `try await withTaskExecutorPreference(connection.replyExecutor) { … }`.
    public var replyExecutor: NATSReplyExecutor { self.table.replyExecutor }

    /// The largest payload the server accepts, in bytes.
    ///
    /// The corresponding C function is `natsConnection_GetMaxPayload`.
    public var maxPayload: Int { Int(natsConnection_GetMaxPayload(self.pointer.raw)) }
}

/// Subscribes the request table's wildcard reply inbox and ties the table's retain to cnats'
/// on-complete callback.
private func subscribeInbox(_ nc: OpaquePointer, table: RequestTable) throws(NATSError) -> OpaquePointer {
    var sub: OpaquePointer?
    // passRetained: released exactly once, by the on-complete callback below (after the last
    // handler call), or right here when subscribing fails.
    let closure = Unmanaged.passRetained(table).toOpaque()
    let status = natsConnection_Subscribe(
        &sub,
        nc,
        table.subscriptionSubject,
        { _, _, msg, closure in
            guard let msg, let closure else { return }
            // The table is alive: its retain is only released by the on-complete callback, which cnats
            // runs after the last call of this handler.
            let table = Unmanaged<RequestTable>.fromOpaque(closure).takeUnretainedValue()
            table.replyExecutor.beginDelivery()
            table.deliver(msg)
            releaseMessage(msg)
            table.replyExecutor.endDelivery()
        },
        closure
    )
    if status != NATS_OK {
        let error = NATSError(status: status)
        Unmanaged<RequestTable>.fromOpaque(closure).release()
        throw error
    }
    let completeStatus = natsSubscription_SetOnCompleteCB(
        sub,
        { closure in
            guard let closure else { return }
            Unmanaged<RequestTable>.fromOpaque(closure).release()
        },
        closure
    )
    if completeStatus != NATS_OK {
        let error = NATSError(status: completeStatus)
        // Closed between the two calls: a handler call may still run, so the table's retain is
        // deliberately leaked rather than released under it (see `subscribe`).
        natsSubscription_Destroy(sub)
        throw error
    }
    // No pending limit on replies: a request waits for them, dropping one would look like a timeout.
    let limitStatus = natsSubscription_SetPendingLimits(sub, -1, -1)
    if limitStatus != NATS_OK {
        let error = NATSError(status: limitStatus)
        natsSubscription_Destroy(sub)  // the on-complete callback releases the table
        throw error
    }
    return sub!
}

/// The replies to one request, from ``NATSConnection/requestMany(to:payload:headers:timeout:maxReplies:)``.
///
/// Dropping the sequence and its iterator (e.g. leaving a `for try await` loop with `break`) ends the
/// request at once; later replies are dropped.
public struct NATSReplies: AsyncSequence, Sendable {
    /// Each element is one reply.
    public typealias Element = NATSMessage
    /// ``NATSError`` (no responders, timeout, closed, publish errors) or `CancellationError`.
    public typealias Failure = any Error

    let stream: AsyncThrowingStream<NATSMessage, any Error>
    /// Ends the request when neither the sequence nor an iterator is left (e.g. after `break`).
    let token: ManyRepliesToken

    /// Iterates the replies.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<NATSMessage, any Error>.AsyncIterator
        let token: ManyRepliesToken

        /// The next reply, nil at the end.
        public mutating func next() async throws -> NATSMessage? { try await self.base.next() }
    }

    /// Starts iterating (one iterator).
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.stream.makeAsyncIterator(), token: self.token)
    }
}

/// Connection statistics.
public struct NATSStatistics: Sendable, Hashable {
    /// Messages received.
    public var inMessages: UInt64 = 0
    /// Payload bytes received.
    public var inBytes: UInt64 = 0
    /// Messages sent.
    public var outMessages: UInt64 = 0
    /// Payload bytes sent.
    public var outBytes: UInt64 = 0
    /// Reconnects so far.
    public var reconnects: UInt64 = 0

    /// Zero counts.
    public init() {}
}
