internal import CNats
internal import HemeraLocks

/// What a subscription's C handler does with each message.
///
/// `@unchecked Sendable`: `sink` is immutable; `AsyncStream.Continuation` is Sendable and the
/// callback is `@Sendable`; `streamDropped` is guarded by its lock.
final class SubscriptionContext: @unchecked Sendable {
    enum Sink {
        case stream(AsyncStream<NATSMessage>.Continuation)
        case callback(@Sendable (NATSMessage) -> Void)
    }

    let sink: Sink
    let streamDropped = PthreadLock<Int64>(0)
    /// The connection's count of headers read through cnats' own functions.
    let headerStats: RawHeaderStats

    init(sink: Sink, headerStats: RawHeaderStats) {
        self.sink = sink
        self.headerStats = headerStats
    }

    /// Runs on the subscription's cnats delivery thread.
    @inline(__always)
    func deliver(_ message: NATSMessage) {
        switch self.sink {
        case .stream(let continuation):
            if case .dropped = continuation.yield(message) {
                self.streamDropped.withLock { $0 += 1 }
            }
        case .callback(let body):
            body(message)
        }
    }

    /// Runs once, from cnats' on-complete callback, after the last handler call returned.
    func finish() {
        if case .stream(let continuation) = self.sink { continuation.finish() }
    }
}

/// The C message handler of every subscription made by this module.
///
/// `closure` is the `Unmanaged<SubscriptionContext>` retained at subscribe time; it stays valid
/// until `subscriptionCompleted` releases it, which cnats calls after the last handler returned.
/// The handler owns `msg` and destroys it after copying what it needs.
let subscriptionHandler: natsMsgHandler = { nc, sub, msg, closure in
    guard let msg, let closure else { return }
    let context = Unmanaged<SubscriptionContext>.fromOpaque(closure).takeUnretainedValue()
    let message = NATSMessage(copying: msg, stats: context.headerStats)
    releaseMessage(msg)
    // Coalesced connections: replies published by the handler are held while more messages wait.
    let mark = NATSEventLoop.beginDelivery(nc, sub)
    context.deliver(message)
    if let mark { NATSEventLoop.endDelivery(mark) }
}

/// cnats' on-complete callback: releases the context retained at subscribe time, exactly once.
let subscriptionCompleted: natsOnCompleteCB = { closure in
    guard let closure else { return }
    let context = Unmanaged<SubscriptionContext>.fromOpaque(closure).takeRetainedValue()
    context.finish()
}

/// A subscription to a subject: an `AsyncSequence` of ``NATSMessage`` (single consumer).
///
/// ```swift
/// let subscription = try connection.subscribe(to: "orders.>")
/// for await message in subscription {
///     print(message.subject, message.payload.count)
/// }
/// ```
///
/// Back-pressure: messages first wait in cnats' per-subscription queue (``pendingLimits``,
/// 65,536 messages / 64 MiB by default), from which the delivery thread moves them into this
/// sequence's buffer (``NATSConnection/subscribe(to:queue:bufferLimit:)``'s `bufferLimit`). When
/// either is full, new messages are dropped, never blocking the connection: ``dropped`` counts both,
/// and cnats also reports a ``NATSConnectionEvent/error(_:subject:)`` with
/// ``NATSError/Code/slowConsumer``.
///
/// The sequence ends after ``unsubscribe()``, ``drain(timeout:)``, an auto-unsubscribe limit, or the
/// connection closing. Dropping the last reference unsubscribes.
public final class NATSSubscription: AsyncSequence, Sendable {
    /// Each element is one received message.
    public typealias Element = NATSMessage
    /// The sequence never throws; it ends when the subscription ends.
    public typealias Failure = Never

    let pointer: SendablePointer
    let context: SubscriptionContext
    let stream: AsyncStream<NATSMessage>?
    /// Keeps the connection alive as long as the subscription.
    let connection: NATSConnection

    /// The subject this subscription listens on.
    public let subject: String
    /// The queue group, if any.
    public let queue: String?

    init(
        pointer: OpaquePointer,
        context: SubscriptionContext,
        stream: AsyncStream<NATSMessage>?,
        connection: NATSConnection,
        subject: String,
        queue: String?
    ) {
        self.pointer = SendablePointer(pointer)
        self.context = context
        self.stream = stream
        self.connection = connection
        self.subject = subject
        self.queue = queue
    }

    deinit {
        // Removes the interest if still active; the context is released by the on-complete callback.
        natsSubscription_Destroy(self.pointer.raw)
    }

    /// Iterates the messages. For a callback subscription the sequence is empty.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<NATSMessage>.AsyncIterator?
        let subscription: NATSSubscription

        /// The next message, or nil when the subscription ended.
        public mutating func next() async -> NATSMessage? {
            await self.base?.next()
        }

        /// The next message, or nil when the subscription ended.
        public mutating func next(isolation actor: isolated (any Actor)?) async -> NATSMessage? {
            await self.base?.next(isolation: actor)
        }
    }

    /// Starts iterating (only one iterator per subscription).
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.stream?.makeAsyncIterator(), subscription: self)
    }

    /// Removes interest in the subject; messages already queued are not delivered.
    ///
    /// The corresponding C function is `natsSubscription_Unsubscribe`.
    public func unsubscribe() throws {
        try check(natsSubscription_Unsubscribe(self.pointer.raw))
    }

    /// Unsubscribes automatically after `count` messages in total.
    ///
    /// The corresponding C function is `natsSubscription_AutoUnsubscribe`.
    public func autoUnsubscribe(after count: Int) throws {
        try check(natsSubscription_AutoUnsubscribe(self.pointer.raw, Int32(clamping: count)))
    }

    /// Stops receiving new messages, delivers those already queued, then ends the subscription.
    ///
    /// Waits (on a dedicated thread) until the drain completed or `timeout` passed.
    /// - Throws: ``NATSError`` with ``NATSError/Code/timeout`` when the drain did not finish in time.
    ///
    /// The corresponding C functions are `natsSubscription_DrainTimeout` and
    /// `natsSubscription_WaitForDrainCompletion`.
    public func drain(timeout: Duration) async throws {
        try check(natsSubscription_DrainTimeout(self.pointer.raw, timeout.cMilliseconds))
        let pointer = self.pointer
        let wait = timeout.cMilliseconds + 1000
        let result: Result<Void, NATSError> = await onDedicatedThread {
            let status = natsSubscription_WaitForDrainCompletion(pointer.raw, wait)
            if status != NATS_OK { return .failure(NATSError(status: status)) }
            let completion = natsSubscription_DrainCompletionStatus(pointer.raw)
            if completion != NATS_OK {
                return .failure(
                    NATSError(
                        code: .init(completion),
                        message: "subscription drain ended with \(NATSError.Code(completion))"
                    )
                )
            }
            return .success(())
        }
        try withExtendedLifetime(self) { try result.get() }
    }

    /// Sets cnats' pending limits for this subscription (messages, bytes; -1 for unlimited).
    ///
    /// The corresponding C function is `natsSubscription_SetPendingLimits`.
    public func setPendingLimits(messages: Int, bytes: Int) throws {
        try check(
            natsSubscription_SetPendingLimits(self.pointer.raw, Int32(clamping: messages), Int32(clamping: bytes))
        )
    }

    /// cnats' pending limits (messages, bytes).
    ///
    /// The corresponding C function is `natsSubscription_GetPendingLimits`.
    /// - Throws: ``NATSError`` with ``NATSError/Code/invalidSubscription`` once the subscription closed.
    public var pendingLimits: (messages: Int, bytes: Int) {
        get throws {
            var messages: Int32 = 0
            var bytes: Int32 = 0
            try check(natsSubscription_GetPendingLimits(self.pointer.raw, &messages, &bytes))
            return (Int(messages), Int(bytes))
        }
    }

    /// Messages and bytes waiting in cnats' queue for the delivery thread.
    ///
    /// The corresponding C function is `natsSubscription_GetPending`.
    /// - Throws: ``NATSError`` with ``NATSError/Code/invalidSubscription`` once the subscription closed.
    public var pending: (messages: Int, bytes: Int) {
        get throws {
            var messages: Int32 = 0
            var bytes: Int32 = 0
            try check(natsSubscription_GetPending(self.pointer.raw, &messages, &bytes))
            return (Int(messages), Int(bytes))
        }
    }

    /// Messages dropped because a limit was reached: in cnats' queue plus this sequence's buffer.
    ///
    /// The corresponding C function is `natsSubscription_GetDropped`.
    /// - Throws: ``NATSError`` with ``NATSError/Code/invalidSubscription`` once the subscription closed.
    public var dropped: Int64 {
        get throws {
            var cDropped: Int64 = 0
            try check(natsSubscription_GetDropped(self.pointer.raw, &cDropped))
            return cDropped + self.context.streamDropped.withLock { $0 }
        }
    }

    /// Whether the subscription still receives messages.
    ///
    /// The corresponding C function is `natsSubscription_IsValid`.
    public var isValid: Bool { natsSubscription_IsValid(self.pointer.raw) }
}

/// A cnats object pointer that crosses threads.
///
/// `@unchecked Sendable`: cnats' connection and subscription functions lock internally and may be
/// called from any thread; the owner of the pointer (a final class) controls its lifetime.
struct SendablePointer: @unchecked Sendable {
    let raw: OpaquePointer
    init(_ raw: OpaquePointer) { self.raw = raw }
}
