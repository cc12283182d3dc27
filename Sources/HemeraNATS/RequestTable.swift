internal import CNats
internal import HemeraLocks

#if DEBUG
    /// The continuation of a waiting request: checked in debug builds, unsafe in release builds.
    typealias ReplyContinuation = CheckedContinuation<NATSMessage, any Error>

    /// Suspends the caller with a ``ReplyContinuation`` (checked in debug, unsafe in release).
    @inline(__always)
    func withReplyContinuation(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (ReplyContinuation) -> Void
    ) async throws -> NATSMessage {
        try await withCheckedThrowingContinuation(isolation: isolation, body)
    }
#else
    /// The continuation of a waiting request: checked in debug builds, unsafe in release builds.
    typealias ReplyContinuation = UnsafeContinuation<NATSMessage, any Error>

    /// Suspends the caller with a ``ReplyContinuation`` (checked in debug, unsafe in release).
    @inline(__always)
    func withReplyContinuation(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (ReplyContinuation) -> Void
    ) async throws -> NATSMessage {
        try await withUnsafeThrowingContinuation(isolation: isolation, body)
    }
#endif

/// The table of requests waiting for replies on a connection's wildcard reply inbox.
///
/// Each request gets an id from a counter; its reply subject is `<prefix><id>` (the prefix ends
/// with a dot), and the inbox subscription on `<prefix>*` parses the id back from the reply's
/// subject for an O(1) lookup. Every entry is completed exactly once, by whoever removes it from
/// the table under the lock: the reply, the timer thread (timeout), task cancellation, a failed
/// publish, or the connection closing. Continuations are resumed after the lock is released.
///
/// Timeouts need no task per request: one timer thread per table sleeps on a condition variable
/// until the earliest deadline of a min-heap. Entries completed early stay in the heap and are
/// skipped when popped (the heap is compacted when mostly stale); a new deadline only wakes the
/// timer when it is earlier than the current earliest, which with equal timeouts is rare.
///
/// `@unchecked Sendable`: all mutable state is in `state`, guarded by its pthread lock; `prefix`
/// is immutable.
final class RequestTable: @unchecked Sendable {
    /// One pending request.
    enum Waiter {
        /// Reserved, its continuation not installed yet: a cancel now only marks it.
        case reserved
        /// Cancelled while reserved: installing the continuation resumes it with cancellation.
        case cancelled
        /// A request waiting for one reply.
        case single(ReplyContinuation)
        /// A request collecting several replies into a stream.
        case many(Many)
    }

    struct Many {
        let continuation: AsyncThrowingStream<NATSMessage, any Error>.Continuation
        var remaining: Int?
        var received: Int
    }

    struct State {
        /// Pending requests with the subject each was sent to (permission errors name it).
        var entries = PendingRequests()
        var nextID: UInt64 = 0
        var heap = DeadlineHeap()
        /// Set when the connection closed: new requests fail with it at once.
        var closedError: NATSError?
        var timerStarted = false

        /// Removes the requests waiting for replies (not those still being sent), all of them or
        /// those sent to `subject`, and returns their waiters.
        mutating func removeWaiting(sentTo subject: String? = nil) -> [Waiter] {
            self.entries.removeAll { waiter, sentTo in
                switch waiter {
                case .single, .many: subject == nil || sentTo == subject
                case .reserved, .cancelled: false
                }
            }
        }
    }

    /// `<inboxPrefix>.<unique token>.` as bytes, without a terminating zero.
    let prefix: [UInt8]
    /// The wildcard subject the connection subscribes to: `<prefix>*`.
    let subscriptionSubject: String
    private let state = PthreadLock(State(), withCondition: true)
    /// Runs callers that prefer it on the reply thread (see ``NATSReplyExecutor``).
    let replyExecutor = NATSReplyExecutor()
    /// The connection's count of headers that took cnats' own functions (RawHeaders.swift).
    let rawHeaderStats = RawHeaderStats()

    init(inboxPrefix: String) {
        let token = randomToken()
        self.prefix = Array("\(inboxPrefix).\(token).".utf8)
        self.subscriptionSubject = "\(inboxPrefix).\(token).*"
    }

    /// The number of requests still waiting (for tests and diagnostics).
    var count: Int { self.state.withLock { $0.entries.count } }

    // MARK: Single replies

    /// Sends a request through `publish` (given the zero-terminated reply subject) and waits for
    /// one reply, a timeout, a cancellation or the connection closing. Inlined into
    /// ``NATSConnection/request(to:payload:headers:timeout:)``: one async frame fewer per request.
    @inline(__always)
    func request(
        subject: String,
        timeout: Duration,
        publish: (UnsafePointer<CChar>) throws(NATSError) -> Void
    ) async throws -> NATSMessage {
        let id = try self.reserve(.reserved, subject: subject, timeout: timeout)
        let reply = try await withTaskCancellationHandler {
            try await withReplyContinuation { continuation in
                // The table's work is in synchronous, non-inlined methods: in this closure (inlined
                // into an async one) each `Waiter` value, whose size is known only at run time,
                // was allocated from the task: four allocations per request (issue 12).
                if let failure = self.install(continuation, id: id, timeout: timeout) {
                    continuation.resume(throwing: failure)
                    return
                }
                do {
                    try self.withReplySubject(id) { (subject) throws(NATSError) in try publish(subject) }
                } catch {
                    self.failInstalled(id, with: error)
                }
            }
        } onCancel: {
            self.cancel(id)
        }
        #if DEBUG
            // `deliver` built the reply before taking this lock; taking it once here gives
            // ThreadSanitizer (whose runs are debug builds) the release/acquire edge for the reply's
            // bytes. The continuation's resume already orders them, but the Swift runtime's hand-off
            // is not TSan-instrumented. Release builds skip it: at 256 requests in flight it is one
            // more acquisition of a lock the delivery thread holds for every reply.
            self.state.withLock { _ in }
        #endif
        return reply
    }

    /// Installs the continuation of reserved request `id`; returns the error to resume it with
    /// instead when the request was cancelled, timed out or the connection closed meanwhile.
    @inline(never)
    private func install(_ continuation: ReplyContinuation, id: UInt64, timeout: Duration) -> (any Error)? {
        self.state.withLock { state in
            switch state.entries[id] {
            case .reserved:
                state.entries.update(id, .single(continuation))
                return nil
            case .cancelled:
                _ = state.entries.remove(id)
                return CancellationError()
            case nil:
                // The timer or the connection closing removed it while reserved.
                return state.closedError ?? timeoutError(timeout)
            case .single, .many:
                preconditionFailure("request \(id) installed twice")
            }
        }
    }

    /// Fails installed request `id` whose publish failed. Whoever removes the entry completes it; a
    /// reply cannot beat a failed publish, but the timer or a cancel can, and then they own the
    /// continuation.
    @inline(never)
    private func failInstalled(_ id: UInt64, with error: any Error) {
        if case .single(let waiting)? = self.remove(id) {
            waiting.resume(throwing: error)
        }
    }

    // MARK: Several replies

    /// Registers a request collecting replies into `continuation`, then sends it through `publish`.
    /// Returns its id (nil when it failed at once), for ``cancel(_:)``.
    @discardableResult
    func requestMany(
        subject: String,
        timeout: Duration,
        maxReplies: Int?,
        continuation: AsyncThrowingStream<NATSMessage, any Error>.Continuation,
        publish: (UnsafePointer<CChar>) throws(NATSError) -> Void
    ) -> UInt64? {
        let id: UInt64
        do {
            id = try self.reserve(
                .many(Many(continuation: continuation, remaining: maxReplies, received: 0)),
                subject: subject,
                timeout: timeout
            )
        } catch {
            continuation.finish(throwing: error)
            return nil
        }
        continuation.onTermination = { [weak self] _ in
            self?.cancel(id)
        }
        do {
            try self.withReplySubject(id) { (subject) throws(NATSError) in try publish(subject) }
        } catch {
            if case .many(let many)? = self.remove(id) {
                many.continuation.finish(throwing: error)
            }
        }
        return id
    }

    // MARK: Completion paths

    /// Delivers a message from the reply inbox subscription (runs on its cnats delivery thread).
    /// Late replies (no entry any more) are dropped.
    func deliver(_ message: OpaquePointer) {
        guard let id = self.parseID(natsMsg_GetSubject(message)) else { return }
        // No responders: an empty message whose first `Status` value starts with 503, as
        // `natsMsg_IsNoResponders` decides, here from the raw header block; that function (which
        // makes cnats parse the block into its map) only when the block cannot be read raw.
        let noResponders: Bool
        let headers: NATSHeaders?
        if case .parsed(let parsed) = NATSHeaders.readRaw(from: message) {
            headers = parsed
            noResponders =
                natsMsg_GetDataLength(message) == 0 && parsed?["Status"]?.utf8.starts(with: "503".utf8) == true
        } else {
            self.rawHeaderStats.noteReadFallback()
            noResponders = natsMsg_IsNoResponders(message)
            headers = noResponders ? nil : NATSHeaders(copyingFrom: message)
        }
        // Copied before the lock, so the copy's writes happen before the lock's release, which the
        // waiting side acquires after it resumes (see `request`): an edge ThreadSanitizer can see.
        let reply: NATSMessage? = noResponders ? nil : NATSMessage(copying: message, headers: headers)
        enum Action {
            case single(ReplyContinuation)
            case many(AsyncThrowingStream<NATSMessage, any Error>.Continuation, finished: Bool)
        }
        let action: Action? = self.state.withLock { state in
            switch state.entries[id] {
            case .single(let continuation)?:
                _ = state.entries.remove(id)
                return .single(continuation)
            case .many(var many)?:
                many.received += 1
                var finished = noResponders
                if let remaining = many.remaining {
                    many.remaining = remaining - 1
                    if remaining <= 1 { finished = true }
                }
                if finished {
                    _ = state.entries.remove(id)
                } else {
                    state.entries.update(id, .many(many))
                }
                return .many(many.continuation, finished: finished)
            case .reserved?, .cancelled?, nil:
                return nil
            }
        }
        guard let action else { return }
        switch action {
        case .single(let continuation):
            if let reply {
                continuation.resume(returning: reply)
            } else {
                continuation.resume(throwing: noRespondersError())
            }
        case .many(let continuation, let finished):
            guard let reply else {
                continuation.finish(throwing: noRespondersError())
                return
            }
            continuation.yield(reply)
            if finished { continuation.finish() }
        }
    }

    /// Ends a request at once because its task was cancelled (or its stream consumer went away).
    func cancel(_ id: UInt64) {
        let waiter: Waiter? = self.state.withLock { state in
            switch state.entries[id] {
            case .reserved?:
                state.entries.update(id, .cancelled)
                return nil
            case .single?, .many?:
                return state.entries.remove(id)
            case .cancelled?, nil:
                return nil
            }
        }
        switch waiter {
        case .single(let continuation)?:
            continuation.resume(throwing: CancellationError())
        case .many(let many)?:
            many.continuation.finish(throwing: CancellationError())
        default:
            break
        }
    }

    /// Fails every pending request with `error`; with `close`, later requests fail at once too and
    /// the timer thread ends.
    /// Without `close` (a disconnect), requests still being sent (reserved, continuation not yet
    /// installed) are kept: they are sent into cnats' reconnect buffer and wait as usual.
    func failAll(with error: NATSError, close: Bool) {
        let waiters: [Waiter] = self.state.withLock { state in
            if close {
                state.closedError = error
                let waiters = state.entries.removeAll { _, _ in true }
                state.heap.removeAll()
                return waiters
            }
            return state.removeWaiting()
        }
        if close { self.state.broadcast() }
        for waiter in waiters {
            Self.fail(waiter, with: error, timedOut: false)
        }
    }

    private static func fail(_ waiter: Waiter, with error: any Error, timedOut: Bool) {
        switch waiter {
        case .single(let continuation):
            continuation.resume(throwing: error)
        case .many(let many):
            // A gather that got replies ends normally at its deadline.
            if timedOut && many.received > 0 {
                many.continuation.finish()
            } else {
                many.continuation.finish(throwing: error)
            }
        case .reserved, .cancelled:
            // Their installer sees the entry gone and fails itself.
            break
        }
    }

    // MARK: Internals

    private func reserve(_ waiter: Waiter, subject: String, timeout: Duration) throws -> UInt64 {
        let deadline = monotonicNanoseconds() &+ timeout.nanoseconds
        let (id, wake, startTimer): (UInt64, Bool, Bool) = try self.state.withLock { state in
            if let error = state.closedError { throw error }
            state.nextID &+= 1
            let id = state.nextID
            state.entries.insert(id, waiter, subject: subject)
            let wake = state.heap.first.map { deadline < $0.deadline } ?? true
            if state.heap.count > 1024 && state.heap.count > 4 * state.entries.count {
                let entries = state.entries
                state.heap.removeAll { entries[$0.id] == nil }
            }
            state.heap.insert(DeadlineHeap.Element(deadline: deadline, id: id))
            let startTimer = !state.timerStarted
            state.timerStarted = true
            return (id, wake, startTimer)
        }
        if startTimer {
            spawnDetachedThread { [self] in self.runTimer() }
        } else if wake {
            self.state.broadcast()
        }
        return id
    }

    private func remove(_ id: UInt64) -> Waiter? {
        self.state.withLock { $0.entries.remove(id) }
    }

    /// Fails at once the requests waiting for replies to `subject` (the server refused their
    /// publish: cnats reports it asynchronously, naming the subject). Requests still being sent are
    /// left alone; they fail with the next refusal or their timeout.
    func failRequests(to subject: String, with error: NATSError) {
        let waiters = self.state.withLock { state in state.removeWaiting(sentTo: subject) }
        for waiter in waiters {
            Self.fail(waiter, with: error, timedOut: false)
        }
    }

    /// The timer thread: fails requests whose deadline passed; ends when the table closes.
    private func runTimer() {
        while true {
            let expired: [(Waiter, UInt64)]? = self.state.waitLoop { state in
                if state.closedError != nil { return .done(nil) }
                let now = monotonicNanoseconds()
                var expired: [(Waiter, UInt64)] = []
                while let first = state.heap.first, first.deadline <= now {
                    state.heap.removeFirst()
                    if let waiter = state.entries.remove(first.id) {
                        expired.append((waiter, first.id))
                    }
                }
                if !expired.isEmpty { return .done(expired) }
                if let first = state.heap.first { return .waitUntil(first.deadline) }
                return .waitForever
            }
            guard let expired else { return }
            for (waiter, _) in expired {
                Self.fail(waiter, with: NATSError(code: .timeout, message: "request timed out"), timedOut: true)
            }
        }
    }

    /// Calls `body` with the zero-terminated reply subject of request `id`, built on the stack.
    private func withReplySubject<R>(
        _ id: UInt64,
        _ body: (UnsafePointer<CChar>) throws(NATSError) -> R
    ) throws(NATSError) -> R {
        let prefix = self.prefix
        let result: Result<R, NATSError> = withUnsafeTemporaryAllocation(of: CChar.self, capacity: prefix.count + 21) {
            buffer in
            var index = 0
            for byte in prefix {
                buffer[index] = CChar(bitPattern: byte)
                index += 1
            }
            // Decimal digits of id, written backwards then reversed in place.
            var value = id
            let start = index
            repeat {
                buffer[index] = CChar(48 + Int(value % 10))
                value /= 10
                index += 1
            } while value > 0
            var low = start
            var high = index - 1
            while low < high {
                buffer.swapAt(low, high)
                low += 1
                high -= 1
            }
            buffer[index] = 0
            do throws(NATSError) {
                return .success(try body(UnsafePointer(buffer.baseAddress!)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The request id at the end of a reply subject `<prefix><digits>`, or nil.
    private func parseID(_ subject: UnsafePointer<CChar>?) -> UInt64? {
        guard let subject else { return nil }
        var pointer = subject + self.prefix.count
        var value: UInt64 = 0
        var digits = 0
        while true {
            let char = pointer.pointee
            if char == 0 { break }
            guard char >= 48 && char <= 57 else { return nil }
            value = value &* 10 &+ UInt64(char - 48)
            digits += 1
            pointer += 1
        }
        return digits > 0 ? value : nil
    }
}

private func timeoutError(_ timeout: Duration) -> NATSError {
    NATSError(code: .timeout, message: "request timed out after \(timeout)")
}

private func noRespondersError() -> NATSError {
    NATSError(code: .noResponders, message: "no responders available for request")
}

/// Cancels a `requestMany` request when the last reference to its reply sequence (or its
/// iterator) goes away: the table's entry holds the stream's continuation, so the stream alone
/// would never be deallocated and terminated before the timeout.
/// It also keeps the connection alive while the replies are consumed.
final class ManyRepliesToken: Sendable {
    let connection: NATSConnection
    let id: UInt64?

    init(connection: NATSConnection, id: UInt64?) {
        self.connection = connection
        self.id = id
    }

    deinit {
        // A no-op when the request already ended.
        if let id { self.connection.table.cancel(id) }
    }
}

/// A min-heap of deadlines.
struct DeadlineHeap {
    struct Element {
        var deadline: UInt64
        var id: UInt64
    }

    private var storage: [Element] = []

    var count: Int { self.storage.count }
    var first: Element? { self.storage.first }

    mutating func insert(_ element: Element) {
        self.storage.append(element)
        var child = self.storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if self.storage[parent].deadline <= self.storage[child].deadline { break }
            self.storage.swapAt(parent, child)
            child = parent
        }
    }

    mutating func removeFirst() {
        let last = self.storage.removeLast()
        if self.storage.isEmpty { return }
        self.storage[0] = last
        self.siftDown(0)
    }

    mutating func removeAll() { self.storage.removeAll(keepingCapacity: true) }

    mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        self.storage.removeAll(where: shouldRemove)
        var index = self.storage.count / 2
        while index > 0 {
            index -= 1
            self.siftDown(index)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = self.storage.count
        while true {
            let left = 2 * parent + 1
            if left >= count { return }
            var smallest = left
            let right = left + 1
            if right < count && self.storage[right].deadline < self.storage[left].deadline { smallest = right }
            if self.storage[parent].deadline <= self.storage[smallest].deadline { return }
            self.storage.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// 22 random base-62 characters, as unique as a NUID.
func randomToken() -> String {
    let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    var generator = SystemRandomNumberGenerator()
    var bytes: [UInt8] = []
    bytes.reserveCapacity(22)
    for _ in 0..<22 { bytes.append(alphabet[Int.random(in: 0..<62, using: &generator)]) }
    return String(decoding: bytes, as: UTF8.self)
}
