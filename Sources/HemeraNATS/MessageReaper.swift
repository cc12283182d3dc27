internal import CNats
internal import HemeraLocks

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Frees a cnats message that this library owns (received in a handler, or made by
/// `natsMsg_Create` to publish headers), without waking cnats' garbage-collector thread.
///
/// `natsMsg_Destroy` hands every such message to cnats' GC thread and wakes it when it idles: a
/// thread wake-up (two context switches) per message, twice per request/reply, on the hot path.
/// cnats 3.4.1's `natsMsg_Destroy` is exactly: return if the JetStream-only "no destroy" flag is
/// set; else queue the message for the GC thread, which calls `natsMsg_free` (free the header
/// map, free the message). Our messages never carry that flag (only JetStream sets it, and this
/// library does not use JetStream), so calling `natsMsg_free` here does what the GC thread would
/// do, on this thread, at once. `natsMsg_free` is exported by libnats but not declared in its
/// public header: it is looked up with `dlsym` and used only on cnats 3.4.x, whose source was
/// checked; elsewhere (symbol absent, other versions) messages go to ``MessageReaper``, which
/// destroys them in batches (one GC wake-up per batch).
///
/// Measured (local probe, pinned to one CPU, 6,000-8,000 requests, raw cnats 73 µs p50 in the same
/// runs): HemeraNATS request p50 76 µs and p99 152 µs with `natsMsg_Destroy` per message, 12.8
/// context switches per request; batches: p50 67 µs but p99 510-640 µs (64 destroys in a row
/// ping-pong the GC lock with the GC thread they woke); direct free: p50 68-71 µs, p99 139-171
/// µs, 9.4 context switches per request. Typed act p50 149 -> 119-122 µs.
func releaseMessage(_ message: OpaquePointer) {
    if let free = directMessageFree {
        free(UnsafeMutableRawPointer(message))
    } else {
        MessageReaper.shared.release(message)
    }
}

/// `natsMsg_free`, when this cnats is a version whose `natsMsg_Destroy` was checked (3.4.x).
let directMessageFree: (@convention(c) (UnsafeMutableRawPointer?) -> Void)? = {
    guard nats_GetVersionNumber() >> 8 == 0x0304 else { return nil }
    // nil handle: RTLD_DEFAULT, every loaded library (libnats is linked into this process).
    guard let symbol = dlsym(nil, "natsMsg_free") else { return nil }
    // The symbol is cnats 3.4.1's `void natsMsg_free(void *object)` (src/msg.c): a C function of
    // exactly this type.
    return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutableRawPointer?) -> Void).self)
}()

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

    private let pending = PthreadLock(Pending())

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
