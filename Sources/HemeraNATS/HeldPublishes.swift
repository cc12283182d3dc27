internal import CNats
internal import HemeraLocks
internal import Synchronization

/// Publishes other than requests (replies, events, plain publishes) made while the connection
/// reconnects: kept in order and sent once it is back, as cnats' reconnect buffer would.
///
/// Why not cnats' buffer: unless ``NATSOptions/queuesRequestsWhileDisconnected``, cnats' reconnect
/// buffer is 0 bytes, so cnats refuses every publish while reconnecting (`NATS_INSUFFICIENT_BUFFER`),
/// checked under its connection lock at the very write. A request can then never wait in a buffer
/// and reach a service after its caller gave up, however close its publish comes to a disconnect
/// (a status read before the publish leaves a window). Requests fail at once
/// (``NATSError/Code/disconnected``); everything else comes here, within the byte budget of
/// ``NATSOptions/reconnectBufferSize`` (8 MiB by default, cnats' own), so a reply finished during a
/// reconnect still reaches a caller that waits.
final class HeldPublishes: Sendable {
    struct Message: Sendable {
        let subject: String
        let payload: [UInt8]
        let replyTo: String?
        let headers: NATSHeaders?

        var size: Int { subject.utf8.count + payload.count + (replyTo?.utf8.count ?? 0) }
    }

    struct State {
        var messages: [Message] = []
        var bytes = 0
        /// A ``release(_:)`` is sending a batch taken out of `messages`.
        var releasing = false
    }

    /// Whether messages are held: read without the lock on every publish, set and cleared under it.
    let holding = Atomic<Bool>(false)
    let state = PthreadLock(State())
    /// The byte budget.
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    /// Whether messages are held (one atomic load: the check on every publish).
    @inline(__always)
    var isHolding: Bool { holding.load(ordering: .acquiring) }

    /// The number of messages held now (for tests and diagnostics).
    var count: Int { state.withLock { $0.messages.count } }

    /// Appends a message refused while reconnecting.
    /// - Throws: ``NATSError/Code/disconnected`` when the byte budget is spent.
    func hold(_ message: Message) throws(NATSError) {
        let result: Result<Void, NATSError> = state.withLock { state in
            guard state.bytes + message.size <= self.limit else {
                return .failure(
                    NATSError(
                        code: .disconnected,
                        message:
                            "not connected to a server, and the \(self.limit) bytes kept for the reconnect are taken: the message was not sent"
                    )
                )
            }
            state.messages.append(message)
            state.bytes += message.size
            self.holding.store(true, ordering: .releasing)
            return .success(())
        }
        try result.get()
    }

    /// Appends `message` behind those already held (to keep their order), if any are.
    /// - Returns: whether it was held.
    func holdIfHolding(_ message: Message) throws(NATSError) -> Bool {
        let result: Result<Bool, NATSError> = state.withLock { state in
            if state.messages.isEmpty && !state.releasing { return .success(false) }
            guard state.bytes + message.size <= self.limit else {
                return .failure(
                    NATSError(
                        code: .disconnected,
                        message:
                            "not connected to a server, and the \(self.limit) bytes kept for the reconnect are taken: the message was not sent"
                    )
                )
            }
            state.messages.append(message)
            state.bytes += message.size
            return .success(true)
        }
        return try result.get()
    }

    /// Sends the held messages in order with `publish`, stopping at the first one refused again
    /// (the connection dropped again: they stay for the next reconnect). Other failures drop that
    /// message and are returned, to be logged.
    ///
    /// Publishes outside the lock, a batch at a time; one caller releases at once, and messages held
    /// meanwhile queue behind the batch, so the order stays that of the publishes.
    func release(_ publish: (Message) throws(NATSError) -> Void) -> [NATSError] {
        var failures: [NATSError] = []
        var refused = false
        while true {
            let batch: [Message]? = state.withLock { state in
                if state.releasing || state.messages.isEmpty { return nil }
                state.releasing = true
                defer { state.messages = [] }
                return state.messages
            }
            guard let batch else { return failures }
            var sent = 0
            var bytes = 0
            for message in batch {
                do throws(NATSError) {
                    try publish(message)
                } catch  where error.code.rawValue == Int(NATS_INSUFFICIENT_BUFFER.rawValue) {
                    refused = true
                    break
                } catch {
                    failures.append(error)
                }
                sent += 1
                bytes += message.size
            }
            state.withLock { state in
                state.releasing = false
                state.bytes -= bytes
                if sent < batch.count { state.messages.insert(contentsOf: batch[sent...], at: 0) }
                if state.messages.isEmpty { self.holding.store(false, ordering: .releasing) }
            }
            if refused { return failures }
        }
    }
}
