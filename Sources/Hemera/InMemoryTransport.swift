internal import HemeraLocks

/// A transport inside one process with NATS semantics: subject wildcards (`*`, `>`), queue groups
/// (one member per group gets each message), no-responders and timeouts.
///
/// Use it to unit-test services without a server:
/// ```swift
/// let transport = InMemoryTransport()
/// try await withHemera(transport: transport) { hemera in
///     try hemera.add(AddAction())
///     #expect(try await hemera.act(Add(a: 1, b: 2)) == 3)
/// }
/// ```
/// Delivery runs the subscription's callback synchronously in the publisher's context, in order.
public final class InMemoryTransport: HemeraTransport {
    struct Subscriber {
        let id: Int
        let tokens: [Substring]
        let queue: String?
        let onMessage: @Sendable (TransportMessage) -> Void
    }

    struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var roundRobin: [String: Int] = [:]
        var closed = false
        var inboxCounter = 0
    }

    private let state = PthreadLock(State())
    private let inboxPrefix = "_INBOX.\(fastRandomToken())."

    public init() {}

    static func subjectMatches(_ tokens: [Substring], _ subject: String) -> Bool {
        var index = 0
        for token in subject.split(separator: ".", omittingEmptySubsequences: false) {
            guard index < tokens.count else { return false }
            let pattern = tokens[index]
            if pattern == ">" { return true }
            if pattern != "*" && pattern != token { return false }
            index += 1
        }
        return index == tokens.count
    }

    /// Picks the receivers of a message; returns whether anyone listens.
    private func receivers(of subject: String) throws -> [@Sendable (TransportMessage) -> Void] {
        try state.withLock { state in
            if state.closed { throw TransportError(.closed, "transport closed") }
            var plain: [@Sendable (TransportMessage) -> Void] = []
            var groups: [String: [Subscriber]] = [:]
            for subscriber in state.subscribers.values.sorted(by: { $0.id < $1.id })
            where Self.subjectMatches(subscriber.tokens, subject) {
                if let queue = subscriber.queue {
                    groups[queue, default: []].append(subscriber)
                } else {
                    plain.append(subscriber.onMessage)
                }
            }
            for (queue, members) in groups {
                let next = state.roundRobin[queue, default: 0]
                state.roundRobin[queue] = next &+ 1
                plain.append(members[next % members.count].onMessage)
            }
            return plain
        }
    }

    public func publish(to subject: String, payload: [UInt8], replyTo: String?) throws {
        let message = TransportMessage(subject: subject, replyTo: replyTo, payload: payload)
        for receiver in try receivers(of: subject) { receiver(message) }
    }

    final class Handle: HemeraTransportSubscription {
        let id: Int
        let transport: InMemoryTransport
        init(id: Int, transport: InMemoryTransport) {
            self.id = id
            self.transport = transport
        }
        func unsubscribe() throws { transport.remove(id) }
        func drain() async throws { transport.remove(id) }
    }

    fileprivate func remove(_ id: Int) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    public func subscribe(
        to subject: String,
        queue: String?,
        onMessage: @escaping @Sendable (TransportMessage) -> Void
    ) throws -> any HemeraTransportSubscription {
        let id = try state.withLock { state in
            if state.closed { throw TransportError(.closed, "transport closed") }
            state.nextID += 1
            let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
            state.subscribers[state.nextID] = Subscriber(
                id: state.nextID,
                tokens: tokens,
                queue: queue,
                onMessage: onMessage
            )
            return state.nextID
        }
        return Handle(id: id, transport: self)
    }

    private func newInbox() -> String {
        let number = state.withLock { state in
            state.inboxCounter += 1
            return state.inboxCounter
        }
        return inboxPrefix + String(number, radix: 36)
    }

    private func hasReceivers(_ subject: String) -> Bool {
        state.withLock { state in
            state.subscribers.values.contains { Self.subjectMatches($0.tokens, subject) }
        }
    }

    public func request(to subject: String, payload: [UInt8], timeout: Duration) async throws -> TransportMessage {
        var iterator = requestMany(to: subject, payload: payload, timeout: timeout, maxReplies: 1).makeAsyncIterator()
        guard let reply = try await iterator.next() else {
            throw TransportError(.timeout, "no reply on \(subject) within \(timeout)")
        }
        return reply
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
        let (stream, continuation) = AsyncThrowingStream<TransportMessage, any Error>.makeStream()
        guard hasReceivers(subject) else {
            continuation.finish(throwing: TransportError(.noResponders, "no responders on \(subject)"))
            return stream
        }
        let inbox = newInbox()
        let count = PthreadLock(0)
        let subscription: any HemeraTransportSubscription
        do {
            subscription = try subscribe(to: inbox, queue: nil) { message in
                let done = count.withLock { count -> Bool? in
                    if let maxReplies, count >= maxReplies { return nil }
                    count += 1
                    return maxReplies.map { count >= $0 } ?? false
                }
                guard let done else { return }
                continuation.yield(message)
                if done { continuation.finish() }
            }
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if count.withLock({ $0 }) == 0 {
                continuation.finish(throwing: TransportError(.timeout, "no reply on \(subject) within \(timeout)"))
            } else {
                continuation.finish()
            }
        }
        continuation.onTermination = { _ in
            timer.cancel()
            try? subscription.unsubscribe()
        }
        do {
            let message = TransportMessage(subject: subject, replyTo: inbox, payload: payload, headers: headers)
            for receiver in try receivers(of: subject) { receiver(message) }
        } catch {
            continuation.finish(throwing: error)
        }
        return stream
    }

    public func flush(timeout: Duration) async throws {}

    public func close() async {
        state.withLock { state in
            state.closed = true
            state.subscribers.removeAll()
        }
    }
}
