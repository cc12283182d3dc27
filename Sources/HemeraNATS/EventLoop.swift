internal import CNats
internal import HemeraLocks

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Drives one connection's socket from a thread of its own, through cnats' event-loop mode
/// (`natsOptions_SetEventLoop`): the I/O of ``NATSOptions/WriteMode/coalesced(bufferSize:)``.
///
/// cnats then starts neither its read loop nor its flusher. Readable data goes to
/// `natsConnection_ProcessReadEvent` (one read of up to the IO buffer size, parsed and handed to the
/// subscriptions' delivery threads, as cnats' own read loop does). A publish appends to cnats' write
/// buffer and, when the buffer was empty, asks for write interest (the write callback, under the
/// connection lock); `natsConnection_ProcessWriteEvent` then sends the whole buffer: everything
/// published since the last write in one `send`. Who calls it:
/// - A publish made inside a message handler of this connection (a service's reply) is held while
///   that subscription has more messages queued on the same delivery thread (at most
///   ``maxHeldMessages`` handler calls), and written by that thread when its handler returns: a lone
///   reply leaves from the handler's thread with one `send` and no thread hop, as with send-asap;
///   the replies to a burst of requests leave together.
/// - A publish through ``NATSConnection`` on any other thread (a client's request) is written by
///   that thread right after it when the loop thread sleeps in `poll` (nothing more to read): a lone
///   request costs no thread hop. When the loop thread is awake (processing a read) it is left to
///   it, which writes after that read, together with whatever else was published meanwhile; when a
///   delivery thread holds replies, to that thread.
/// - Any other publish (cnats' own: subscriptions, pings) wakes the loop thread (one byte on a
///   socketpair, only when it sleeps), which writes as soon as it runs.
/// - A held write still waits after ``maxHoldNanoseconds`` (a handler that blocks) is written by the
///   loop thread.
///
/// The loop waits in `poll(2)` on the socket and on the socketpair (epoll is not in Swift's Glibc
/// module, and one socket needs no more).
///
/// Contract with cnats 3.4.1 (src/conn.c, and its libuv/libevent adapters):
/// - `attach` runs after every (re)connect with the new socket, under the connection lock, on the
///   connecting thread (ours at first, cnats' reconnect thread later).
/// - `read(remove)` then `write(remove)` run (under the connection lock) right before cnats closes
///   the socket for a reconnect or a close; `write(add)` / `write(remove)` follow the write buffer.
/// - `natsConnection_ProcessWriteEvent` with an empty buffer reads as a closed connection, so only
///   one thread at a time (the `writing` token) calls it, and only while cnats asked for a write.
/// - `detach` runs once, at the end of cnats' close, without the connection lock; after it returns
///   cnats may free the connection, so nobody here touches it again: `detach` waits until no thread is
///   inside `natsConnection_Process*Event` through this loop (except the caller itself).
///
/// Lifetime: the object is kept alive by its ``NATSConnection`` (and, in its `deinit`, by the
/// thread that destroys the cnats connection, until `natsConnection_Destroy` returned), by the
/// registry of attached connections (from the first `attach` to `detach`), by a delivery thread's
/// hold, and by its own thread until that thread ends. cnats gets an unretained pointer to it (the
/// `loop` and `userData` of the callbacks), valid because every callback happens before
/// `natsConnection_Destroy` returns. The thread ends after `detach`, or on ``stop()``.
///
/// `@unchecked Sendable`: every mutable field is in `state` (a pthread lock); the descriptors are
/// immutable after `init` and closed only by the loop thread when it ends.
final class NATSEventLoop: @unchecked Sendable {
    /// Handler calls of one subscription a write may be held for while more messages are queued.
    static let maxHeldMessages = 64
    /// How long the loop thread lets a delivery thread hold a write before writing it itself.
    static let maxHoldNanoseconds: UInt64 = 1_000_000

    private struct State {
        /// The cnats connection, from the first `attach`; never changes afterwards.
        var connection: OpaquePointer?
        /// The socket to poll, -1 between a `read(remove)` and the next `attach`.
        var socket: Int32 = -1
        /// The socket of the last `attach` (for tests: it must be closed after the close).
        var lastSocket: Int32 = -1
        /// cnats has data to write (between `write(add)` and `write(remove)`).
        var wantsWrite = false
        /// The thread inside `natsConnection_ProcessWriteEvent` (or about to be), nil when none.
        var writer: pthread_t?
        /// The last write through the loop left data: wait until poll says writable.
        var waitWritable = false
        /// Delivery threads holding the write for more replies, and since when (monotonic ns).
        var holds = 0
        var holdSince: UInt64 = 0
        /// The loop thread sleeps (or is about to) in `poll`: wake it to write.
        var sleeping = false
        /// ... with no timeout (no holds): a hold kept across handler calls wakes it, so that it
        /// watches the hold's age.
        var sleepingForever = false
        /// A wake byte was written and not yet read.
        var wakePending = false
        /// The loop thread is inside `natsConnection_ProcessReadEvent` / `ProcessWriteEvent`.
        var busy = false
        /// `detach` ran: the connection is closed and must not be touched again.
        var detached = false
        /// ``stop()`` was called (the connection is closed or never connected).
        var stopRequested = false
        /// The loop thread took its last jobs and ends: new jobs run on the caller's thread.
        var exiting = false
        /// The thread ended and closed the descriptors.
        var finished = false
        /// The loop thread, while it runs.
        var thread: pthread_t?
        /// Work to run on the loop thread (closing the connection there).
        var jobs: [@Sendable () -> Void] = []
        /// Wake bytes written so far (for tests: a lone publish must not need one).
        var wakes = 0

        /// Whether the loop thread may write now.
        func loopMayWrite(now: UInt64) -> Bool {
            guard self.wantsWrite, self.writer == nil, self.socket >= 0, self.connection != nil else { return false }
            return self.holds == 0 || now &- self.holdSince >= NATSEventLoop.maxHoldNanoseconds
        }
    }

    private let state = PthreadLock(State(), withCondition: true)
    /// The socketpair: the loop polls `wakeReader`; other threads write to `wakeWriter`.
    private let wakeReader: Int32
    private let wakeWriter: Int32

    /// Creates the loop and starts its thread.
    init() throws(NATSError) {
        var pair: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        guard socketpair(AF_UNIX, type, 0, &pair) == 0 else {
            throw NATSError(code: .systemError, message: "socketpair failed: errno \(errno)")
        }
        self.wakeReader = pair[0]
        self.wakeWriter = pair[1]
        spawnDetachedThread { [self] in
            // The closure keeps `self` alive until the thread ends; the thread closes the socketpair.
            self.run()
        }
    }

    /// The unretained pointer cnats passes back to the callbacks (see the lifetime note above).
    var cPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Installs this loop on cnats options (with send-asap on, so cnats starts no flusher thread and
    /// every publish asks for write interest at once).
    ///
    /// The corresponding C function is `natsOptions_SetEventLoop`.
    func install(on options: OpaquePointer) throws(NATSError) {
        try check(natsOptions_SetSendAsap(options, true))
        try check(
            natsOptions_SetEventLoop(
                options,
                self.cPointer,
                eventLoopAttach,
                eventLoopRead,
                eventLoopWrite,
                eventLoopDetach
            )
        )
    }

    // MARK: Called by other threads

    /// Asks the thread to end (idempotent). Used when the connect failed, and after a close (a
    /// connection that never attached gets no `detach`).
    func stop() {
        let wake = self.state.withLock { state -> Bool in
            state.stopRequested = true
            return Self.markWake(&state)
        }
        if wake { self.wake() }
    }

    /// Closes connection `nc` on the loop thread (cnats closes the socket there, never under a read
    /// in progress), then ends the thread. Blocks: call it on a dedicated thread.
    ///
    /// The corresponding C function is `natsConnection_Close`.
    func closeConnection(_ nc: SendablePointer) {
        self.runOnLoop { natsConnection_Close(nc.raw) }
        self.stop()
    }

    /// Runs `job` on the loop thread and returns when it ran; runs it on the calling thread when the
    /// loop already ended. Blocks: call it on a dedicated thread.
    func runOnLoop(_ job: @escaping @Sendable () -> Void) {
        let done = PthreadLock(false, withCondition: true)
        let queued = self.state.withLock { state -> Bool? in
            if state.exiting { return nil }
            state.jobs.append {
                job()
                done.withLock { $0 = true }
                done.broadcast()
            }
            return Self.markWake(&state)
        }
        guard let wake = queued else {
            job()
            return
        }
        if wake { self.wake() }
        done.waitLoop { $0 ? .done(()) : .waitForever }
    }

    /// How many times another thread woke the loop thread (for tests).
    var wakesForTesting: Int { self.state.withLock { $0.wakes } }

    /// Whether the loop thread ended (for tests).
    var isFinished: Bool { self.state.withLock { $0.finished } }

    /// The socketpair and the last attached socket (for tests: all closed once the loop ended).
    var descriptorsForTesting: [Int32] {
        [self.wakeReader, self.wakeWriter, self.state.withLock { $0.lastSocket }]
    }

    // MARK: Delivery threads

    /// Called by the message handler before a message of connection `nc` is handed over, on cnats'
    /// delivery thread: marks the thread so that a publish made by the handler is held (see the type's
    /// note). Returns the mark to pass to ``endDelivery(_:)``, nil when `nc` is not coalesced.
    @inline(__always)
    static func beginDelivery(_ nc: OpaquePointer?, _ sub: OpaquePointer?) -> DeliveryMark? {
        let mark = DeliveryMark.current()
        if mark.connection != nc {
            // A delivery thread serves one subscription (or, with the global pool, a few): the
            // registry is consulted when the connection changes, not per message.
            mark.connection = nc
            mark.loop = nc.flatMap { AttachedLoops.lookup($0) }
        }
        guard let loop = mark.loop else { return nil }
        mark.delivering = loop
        mark.subscription = sub
        return mark
    }

    /// Called after the handler returned: writes the held publishes unless the subscription has more
    /// messages queued for this thread (and fewer than ``maxHeldMessages`` handler calls were held).
    @inline(__always)
    static func endDelivery(_ mark: DeliveryMark) {
        let loop = mark.delivering
        mark.delivering = nil
        guard let held = mark.held else { return }
        if held === loop {
            mark.heldMessages += 1
            if mark.heldMessages < Self.maxHeldMessages, let sub = mark.subscription {
                var pending: Int32 = 0
                if natsSubscription_GetPending(sub, &pending, nil) == NATS_OK && pending > 0 {
                    held.watchHold()
                    return
                }
            }
        }
        mark.held = nil
        held.releaseHold(write: held === loop)
    }

    /// A hold is kept across handler calls: make sure the loop thread watches its age (wakes it when it
    /// sleeps without a timeout; once per burst, as it then sleeps with one while holds last).
    private func watchHold() {
        let wake = self.state.withLock { state in state.sleepingForever && Self.markWake(&state) }
        if wake { self.wake() }
    }

    /// Ends a hold: writes on this thread when `write` (and no other thread writes), else leaves the
    /// write to the loop thread.
    fileprivate func releaseHold(write: Bool) {
        enum Action { case none, wake, write(OpaquePointer) }
        let action = self.state.withLock { state -> Action in
            state.holds -= 1
            guard state.wantsWrite, !state.detached, state.socket >= 0, let nc = state.connection else { return .none }
            if write && state.writer == nil && !state.waitWritable {
                state.writer = pthread_self()
                return .write(nc)
            }
            return state.holds == 0 && Self.markWake(&state) ? .wake : .none
        }
        switch action {
        case .none:
            break
        case .wake:
            self.wake()
        case .write(let nc):
            // `nc` is alive: this delivery thread's subscription holds a reference to its connection,
            // and a `detach` on another thread waits for `writer`.
            natsConnection_ProcessWriteEvent(nc)
            let wake = self.state.withLock { state -> Bool in
                state.writer = nil
                // Data left (a partial write, or publishes that raced with this one): the loop writes.
                return state.wantsWrite && Self.markWake(&state)
            }
            self.state.broadcast()
            if wake { self.wake() }
        }
    }

    // MARK: cnats callbacks (under the connection lock, except detach)

    fileprivate func attach(connection: OpaquePointer?, socket: Int32) {
        let first = self.state.withLock { state -> Bool in
            defer { state.connection = state.connection ?? connection }
            return state.connection == nil
        }
        if first, let connection { AttachedLoops.register(connection, self) }
        let wake = self.state.withLock { state -> Bool in
            state.socket = socket
            state.lastSocket = socket
            state.waitWritable = false
            return Self.markWake(&state)
        }
        if wake { self.wake() }
    }

    fileprivate func removeRead() {
        self.state.withLock { state in
            state.socket = -1
        }
        // No wake: until the next `attach` there is no socket to poll. A poll still on the old
        // descriptor ends at the next wake (attach, detach, a publish).
    }

    fileprivate func setWrite(_ add: Bool) {
        guard add else {
            self.state.withLock { $0.wantsWrite = false }
            return
        }
        // A publish from a message handler of this connection: hold the write for the handler's
        // thread (it writes when its subscription's queue is empty).
        if let mark = DeliveryMark.existing(), mark.delivering === self {
            let other = mark.held
            if other !== self {
                mark.held = self
                mark.heldMessages = 0
            }
            self.state.withLock { state in
                state.wantsWrite = true
                guard other !== self else { return }
                if state.holds == 0 { state.holdSince = monotonicNanoseconds() }
                state.holds += 1
            }
            // A hold on another connection (cnats' global delivery pool) is handed to its loop: no
            // write under this connection's lock.
            if other !== self { other?.releaseHold(write: false) }
            return
        }
        // A publish through ``NATSConnection`` on a thread that is not delivering (a client's
        // request, a reply sent after a handler suspended): that thread decides after the publish
        // returns (``finishPublish(_:)``), outside the connection lock.
        if let mark = DeliveryMark.existing(), mark.publishing === self {
            mark.publishWanted = true
            self.state.withLock { $0.wantsWrite = true }
            return
        }
        let wake = self.state.withLock { state -> Bool in
            state.wantsWrite = true
            return state.holds == 0 && Self.markWake(&state)
        }
        if wake { self.wake() }
    }

    // MARK: Publishing threads

    /// Called by ``NATSConnection`` before it hands a publish to cnats on a thread that is not
    /// delivering a message of this connection: marks the thread, so that ``setWrite(_:)`` leaves the
    /// write to it. Returns the mark for ``finishPublish(_:)``, nil on a delivery thread of this
    /// connection (its publishes are held, see the type's note).
    @inline(__always)
    func beginPublish() -> DeliveryMark? {
        let mark = DeliveryMark.current()
        if mark.delivering === self { return nil }
        mark.publishing = self
        return mark
    }

    /// Called after the publish returned: when it asked for a write, writes on this thread if the
    /// loop thread sleeps, that is when it has nothing more to read (a lone request leaves at once,
    /// with no thread hop); otherwise leaves it to whoever runs already: the loop thread writes after
    /// the read it is processing (together with everything published meanwhile), a delivery thread
    /// holding replies writes when its queue is empty, a thread writing now leaves the rest to the
    /// loop. No timer is involved.
    @inline(__always)
    func finishPublish(_ mark: DeliveryMark) {
        mark.publishing = nil
        guard mark.publishWanted else { return }
        mark.publishWanted = false
        self.writeIfIdle()
    }

    /// See ``finishPublish(_:)``. Writes again while publishes made during its write are left and
    /// the loop still sleeps (a few times; then the loop thread takes over).
    private func writeIfIdle() {
        enum Action { case none, wake, write(OpaquePointer) }
        for round in 0..<4 {
            let action = self.state.withLock { state -> Action in
                guard state.wantsWrite, !state.detached, state.socket >= 0, let nc = state.connection else {
                    return .none
                }
                // Awake: the loop writes after its current step. Holding: the holder writes. Another
                // writer: it hands what is left to the loop.
                guard state.sleeping, state.holds == 0, state.writer == nil else { return .none }
                if state.waitWritable || round == 3 { return Self.markWake(&state) ? .wake : .none }
                state.writer = pthread_self()
                return .write(nc)
            }
            switch action {
            case .none:
                return
            case .wake:
                self.wake()
                return
            case .write(let nc):
                // `nc` is alive: the publishing ``NATSConnection`` holds it, and a `detach` on another
                // thread waits for `writer`.
                natsConnection_ProcessWriteEvent(nc)
                self.state.withLock { $0.writer = nil }
                self.state.broadcast()
            }
        }
    }

    fileprivate func detach() {
        let connection = self.state.withLock { state -> OpaquePointer? in
            state.detached = true
            return state.connection
        }
        if let connection { AttachedLoops.remove(connection) }
        self.wake()
        // After this returns cnats may free the connection: wait until no other thread is inside
        // natsConnection_Process*Event through this loop. They never wait for us (we hold no cnats
        // lock here). When detach runs inside such a call (its error closed the connection), that
        // call is ours and is not waited for.
        let me = pthread_self()
        self.state.waitLoop { state in
            let loopBusy = state.busy && !(state.thread.map { pthread_equal($0, me) != 0 } ?? false)
            let writing = state.writer.map { pthread_equal($0, me) == 0 } ?? false
            return loopBusy || writing ? .waitForever : .done(())
        }
    }

    // MARK: The loop thread

    /// Under the lock: whether the caller must write a wake byte.
    private static func markWake(_ state: inout State) -> Bool {
        guard state.sleeping, !state.wakePending else { return false }
        state.wakePending = true
        state.wakes += 1
        return true
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(self.wakeWriter, &byte, 1)  // EAGAIN: the socketpair is full, the loop wakes anyway
    }

    private enum Step {
        case exit(jobs: [@Sendable () -> Void])
        case work(OpaquePointer, read: Bool, write: Bool, jobs: [@Sendable () -> Void])
        case poll(socket: Int32, write: Bool, timeout: Int32)
    }

    private func run() {
        self.state.withLock { $0.thread = pthread_self() }
        let fds = UnsafeMutablePointer<pollfd>.allocate(capacity: 2)
        defer { fds.deallocate() }
        var readable = false
        var writable = false
        var drain = [UInt8](repeating: 0, count: 64)
        loop: while true {
            let now = monotonicNanoseconds()
            let step = self.state.withLock { state -> Step in
                let jobs = state.jobs
                state.jobs.removeAll()
                if state.detached || state.stopRequested {
                    state.exiting = true
                    return .exit(jobs: jobs)
                }
                let read = readable && state.socket >= 0 && state.connection != nil
                let write = state.loopMayWrite(now: now) && (writable || !state.waitWritable)
                if read || write || !jobs.isEmpty {
                    state.busy = read || write
                    if write { state.writer = state.thread }
                    return .work(state.connection!, read: read, write: write, jobs: jobs)
                }
                state.sleeping = true
                // Poll for writable only after a partial write. While holds last, wake up to write a held
                // write that is due (a timed poll arms a timer, costly on a VM: only then).
                var timeout: Int32 = -1
                if state.holds > 0 {
                    let age = min(now &- state.holdSince, NATSEventLoop.maxHoldNanoseconds)
                    timeout =
                        state.wantsWrite ? Int32((NATSEventLoop.maxHoldNanoseconds - age + 999_999) / 1_000_000) : 1
                }
                state.sleepingForever = timeout < 0
                return .poll(socket: state.socket, write: state.wantsWrite && state.waitWritable, timeout: timeout)
            }
            readable = false
            writable = false
            switch step {
            case .exit(let jobs):
                for job in jobs { job() }
                break loop
            case .work(let nc, let read, let write, let jobs):
                if read || write {
                    if read { natsConnection_ProcessReadEvent(nc) }
                    if write {
                        // A detach from another thread waits for `busy`, so `nc` is still valid; a
                        // closed connection returns at once.
                        if !self.state.withLock({ $0.detached }) { natsConnection_ProcessWriteEvent(nc) }
                    }
                    self.state.withLock { state in
                        state.busy = false
                        if write {
                            state.writer = nil
                            state.waitWritable = state.wantsWrite
                        }
                    }
                    self.state.broadcast()
                }
                for job in jobs { job() }
            case .poll(let socket, let write, let timeout):
                fds[0] = pollfd(fd: self.wakeReader, events: Int16(POLLIN), revents: 0)
                fds[1] = pollfd(fd: socket, events: Int16(POLLIN) | (write ? Int16(POLLOUT) : 0), revents: 0)
                let count = poll(fds, socket >= 0 ? 2 : 1, timeout)
                self.state.withLock { state in
                    state.sleeping = false
                    state.sleepingForever = false
                    state.wakePending = false
                }
                if count < 0 { continue loop }  // EINTR
                if fds[0].revents != 0 {
                    _ = read(self.wakeReader, &drain, drain.count)
                }
                if socket >= 0 {
                    let events = fds[1].revents
                    if events & Int16(POLLNVAL) != 0 {
                        // cnats closed the socket without `read(remove)` (a failed reconnect attempt):
                        // stop polling it until the next attach.
                        self.state.withLock { state in
                            if state.socket == socket { state.socket = -1 }
                        }
                    } else {
                        readable = events & (Int16(POLLIN) | Int16(POLLERR) | Int16(POLLHUP)) != 0
                        writable = events & (Int16(POLLOUT) | Int16(POLLERR) | Int16(POLLHUP)) != 0
                    }
                }
            }
        }
        close(self.wakeReader)
        close(self.wakeWriter)
        self.state.withLock { state in
            state.thread = nil
            state.finished = true
        }
        self.state.broadcast()
    }
}

/// What a cnats delivery thread knows about the message it is handing over, for the holds of
/// ``NATSEventLoop``. One per thread, in thread-specific storage.
///
/// Not `Sendable`: only its own thread reads or writes it (the pthread key gives each thread its
/// own); the destructor runs on that thread as it exits.
final class DeliveryMark {
    /// The connection of the last message (a cache key) and its loop, nil when not coalesced.
    var connection: OpaquePointer?
    var loop: NATSEventLoop?
    /// The loop of the message being handled now, and its subscription.
    var delivering: NATSEventLoop?
    var subscription: OpaquePointer?
    /// The loop this thread holds a write on (retained until released), and for how many messages.
    var held: NATSEventLoop?
    var heldMessages = 0
    /// The loop of a publish this thread is making outside a delivery (see
    /// ``NATSEventLoop/beginPublish()``), and whether cnats asked for a write during it.
    var publishing: NATSEventLoop?
    var publishWanted = false

    /// This thread's mark, created on first use. The pthread key owns one retain of it, released by
    /// the key's destructor at thread exit (which also releases a hold left behind).
    @inline(__always)
    static func current() -> DeliveryMark {
        if let mark = existing() { return mark }
        let mark = DeliveryMark()
        pthread_setspecific(deliveryMarkKey.key, Unmanaged.passRetained(mark).toOpaque())
        return mark
    }

    /// This thread's mark if it has one (unretained: the key's retain keeps it alive on this thread).
    @inline(__always)
    static func existing() -> DeliveryMark? {
        guard let raw = pthread_getspecific(deliveryMarkKey.key) else { return nil }
        return Unmanaged<DeliveryMark>.fromOpaque(raw).takeUnretainedValue()
    }
}

/// The pthread key of ``DeliveryMark``.
///
/// `@unchecked Sendable`: the key is created once and only read afterwards.
private struct DeliveryMarkKey: @unchecked Sendable {
    var key = pthread_key_t()
    init() {
        pthread_key_create(&self.key) { raw in
            // Thread exit: release the key's retain, and a hold the thread still had (its loop writes).
            guard let raw else { return }
            let mark = Unmanaged<DeliveryMark>.fromOpaque(raw).takeRetainedValue()
            if let held = mark.held {
                mark.held = nil
                held.releaseHold(write: false)
            }
        }
    }
}

private let deliveryMarkKey = DeliveryMarkKey()

/// The loops of attached coalesced connections, by cnats connection, for the delivery threads.
private enum AttachedLoops {
    static let loops = PthreadLock<[OpaquePointer: NATSEventLoop]>([:])

    static func register(_ nc: OpaquePointer, _ loop: NATSEventLoop) { loops.withLock { $0[nc] = loop } }
    static func remove(_ nc: OpaquePointer) { _ = loops.withLock { $0.removeValue(forKey: nc) } }
    static func lookup(_ nc: OpaquePointer) -> NATSEventLoop? { loops.withLock { $0[nc] } }
}

// MARK: C callbacks

/// The loop behind a callback's `loop` / `userData` pointer: unretained, valid until
/// `natsConnection_Destroy` returned (see ``NATSEventLoop``'s lifetime note).
private func eventLoop(_ pointer: UnsafeMutableRawPointer?) -> NATSEventLoop {
    Unmanaged<NATSEventLoop>.fromOpaque(pointer!).takeUnretainedValue()
}

private let eventLoopAttach: natsEvLoop_Attach = { userData, loop, nc, socket in
    userData?.pointee = loop
    eventLoop(loop).attach(connection: nc, socket: Int32(socket))
    return NATS_OK
}

private let eventLoopRead: natsEvLoop_ReadAddRemove = { userData, add in
    // cnats only ever removes read interest (attach implies it).
    if !add { eventLoop(userData).removeRead() }
    return NATS_OK
}

private let eventLoopWrite: natsEvLoop_WriteAddRemove = { userData, add in
    eventLoop(userData).setWrite(add)
    return NATS_OK
}

private let eventLoopDetach: natsEvLoop_Detach = { userData in
    eventLoop(userData).detach()
    return NATS_OK
}
