internal import CNats

/// Destroys cnats messages in batches.
///
/// `natsMsg_Destroy` hands every message cnats allocated (received ones and those made by
/// `natsMsg_Create`) to the library's garbage-collector thread, and wakes that thread when it is
/// idle: one thread wake-up (two context switches) per message, on the hot path of every request
/// and reply. Handing them over in batches wakes it once per batch (the collector signals only
/// when it waits, and it does not run again before the batch is handed over).
///
/// Memory is bounded: at most ``maxCount`` messages or ``maxBytes`` payload bytes wait here; a
/// quiet process keeps at most that much until the next message or ``drain()``.
///
/// `@unchecked Sendable`: the pending list is guarded by its pthread lock; the pointers in it are
/// owned by the reaper alone (their producers gave them up).
final class MessageReaper: @unchecked Sendable {
    static let shared = MessageReaper()

    static let maxCount = 64
    static let maxBytes = 1 << 20

    private struct Pending {
        var messages: [OpaquePointer] = []
        var bytes = 0
    }

    private let pending = NATSLock(Pending())

    init() {
        self.pending.withLock { $0.messages.reserveCapacity(Self.maxCount) }
    }

    /// Takes ownership of `message` and destroys it with the next batch.
    func release(_ message: OpaquePointer) {
        let size = Int(natsMsg_GetDataLength(message))
        let batch: [OpaquePointer]? = self.pending.withLock { pending in
            pending.messages.append(message)
            pending.bytes += size
            guard pending.messages.count >= Self.maxCount || pending.bytes >= Self.maxBytes else { return nil }
            let batch = pending.messages
            pending.messages.removeAll(keepingCapacity: true)
            pending.bytes = 0
            return batch
        }
        if let batch {
            for message in batch { natsMsg_Destroy(message) }
        }
    }

    /// Destroys every message waiting here (before the library closes).
    func drain() {
        let batch = self.pending.withLock { pending in
            let batch = pending.messages
            pending.messages.removeAll(keepingCapacity: true)
            pending.bytes = 0
            return batch
        }
        for message in batch { natsMsg_Destroy(message) }
    }
}

extension MessageReaper {
    /// How many messages wait for the next batch (for tests and diagnostics).
    var pendingCount: Int { self.pending.withLock { $0.messages.count } }
}
