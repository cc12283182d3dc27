internal import CNats
import HemeraLocks

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
/// cnats then starts neither its read loop nor its flusher. A publish appends to cnats' write
/// buffer and, when the buffer was empty, asks for write interest (the write callback, under the
/// connection lock). This loop writes the whole buffer with `natsConnection_ProcessWriteEvent` as
/// soon as it runs: everything published since the last write goes out in one `send`. Readable
/// data goes to `natsConnection_ProcessReadEvent` (one read of up to the IO buffer size, parsed and
/// dispatched to the subscriptions' delivery threads, as cnats' own read loop does).
///
/// The loop waits in `poll(2)` on the socket and on one end of a socketpair that other threads
/// write one byte to when they need it awake (epoll is not in Swift's Glibc module, and one socket
/// needs no more). Write interest costs no syscall while the loop is busy: a publisher only wakes
/// it when it sleeps in `poll`.
///
/// Contract with cnats 3.4.1 (src/conn.c, and its libuv/libevent adapters):
/// - `attach` runs after every (re)connect with the new socket, under the connection lock, on the
///   connecting thread (ours at first, cnats' reconnect thread later).
/// - `read(remove)` then `write(remove)` run (under the connection lock) right before cnats closes
///   the socket for a reconnect or a close; `write(add)` / `write(remove)` follow the write buffer.
/// - `detach` runs once, at the end of cnats' close, without the connection lock; after it returns
///   cnats may free the connection, so the loop never touches it again: `detach` waits until the
///   loop thread is out of `natsConnection_Process*Event` (unless it runs on the loop thread).
///
/// Lifetime: the object is kept alive by its ``NATSConnection`` (and, in its `deinit`, by the
/// thread that destroys the cnats connection, until `natsConnection_Destroy` returned) and by its
/// own thread until that thread ends. cnats gets an unretained pointer to it (the `loop` and
/// `userData` of the callbacks), valid because every callback happens before
/// `natsConnection_Destroy` returns. The thread ends after `detach`, or on ``stop()``.
///
/// `@unchecked Sendable`: every mutable field is in `state` (a pthread lock); the descriptors are
/// immutable after `init` and closed only by the loop thread when it ends, or by `deinit` when no
/// thread was started.
final class NATSEventLoop: @unchecked Sendable {
    private struct State {
        /// The cnats connection, from the first `attach`; never changes afterwards.
        var connection: OpaquePointer?
        /// The socket to poll, -1 between a `read(remove)` and the next `attach`.
        var socket: Int32 = -1
        /// cnats has data to write (between `write(add)` and `write(remove)`).
        var wantsWrite = false
        /// The loop thread sleeps (or is about to) in `poll`: wake it to write.
        var sleeping = false
        /// A wake byte was written and not yet read.
        var wakePending = false
        /// The loop thread is inside `natsConnection_Process*Event`.
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
            natsOptions_SetEventLoop(options, self.cPointer, eventLoopAttach, eventLoopRead, eventLoopWrite, eventLoopDetach)
        )
    }

    // MARK: Called by other threads

    /// Asks the thread to end (idempotent). Used when the connect failed, and after a close (a
    /// connection that never attached gets no `detach`).
    func stop() {
        let wake = self.state.withLock { state -> Bool in
            state.stopRequested = true
            return self.markWake(&state)
        }
        if wake { self.wake() }
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
            return self.markWake(&state)
        }
        guard let wake = queued else {
            job()
            return
        }
        if wake { self.wake() }
        done.waitLoop { $0 ? .done(()) : .waitForever }
    }

    /// Whether the loop thread ended (for tests).
    var isFinished: Bool { self.state.withLock { $0.finished } }

    /// Waits until the loop thread ended. Blocks: call it on a dedicated thread.
    func waitUntilFinished() {
        self.state.waitLoop { $0.finished ? .done(()) : .waitForever }
    }

    // MARK: cnats callbacks (under the connection lock, except detach)

    fileprivate func attach(connection: OpaquePointer?, socket: Int32) {
        let wake = self.state.withLock { state -> Bool in
            if state.connection == nil { state.connection = connection }
            state.socket = socket
            return self.markWake(&state)
        }
        if wake { self.wake() }
    }

    fileprivate func removeRead() {
        self.state.withLock { state in
            state.socket = -1
        }
        // No wake: a poll on the old descriptor ends when cnats closes or shuts it down, or at the
        // next wake; until `attach` the loop has no socket to poll.
    }

    fileprivate func setWrite(_ add: Bool) {
        let wake = self.state.withLock { state -> Bool in
            state.wantsWrite = add
            return add && self.markWake(&state)
        }
        if wake { self.wake() }
    }

    fileprivate func detach() {
        self.state.withLock { state in
            state.detached = true
        }
        self.wake()
        // After this returns cnats may free the connection: wait until the loop thread is out of
        // natsConnection_Process*Event. It never waits for us (we hold no cnats lock here), except
        // when detach runs on the loop thread itself, inside such a call.
        let onLoop = self.state.withLock { state in state.thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if !onLoop {
            self.state.waitLoop { $0.busy ? .waitForever : .done(()) }
        }
    }

    // MARK: The loop thread

    /// Under the lock: whether the caller must write a wake byte.
    private func markWake(_ state: inout State) -> Bool {
        guard state.sleeping, !state.wakePending else { return false }
        state.wakePending = true
        return true
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(self.wakeWriter, &byte, 1)  // EAGAIN: the pipe is full, the loop is awake anyway
    }

    private enum Step {
        case exit(jobs: [@Sendable () -> Void])
        case work(OpaquePointer, read: Bool, write: Bool, jobs: [@Sendable () -> Void])
        case poll(socket: Int32, write: Bool)
    }

    private func run() {
        self.state.withLock { $0.thread = pthread_self() }
        let fds = UnsafeMutablePointer<pollfd>.allocate(capacity: 2)
        defer { fds.deallocate() }
        var readable = false
        var writable = false
        // After a write that left data (the socket was full), wait until poll says writable.
        var waitWritable = false
        var drain = [UInt8](repeating: 0, count: 64)
        loop: while true {
            let step = self.state.withLock { state -> Step in
                let jobs = state.jobs
                state.jobs.removeAll()
                if state.detached || state.stopRequested {
                    state.exiting = true
                    return .exit(jobs: jobs)
                }
                let socketUp = state.socket >= 0 && state.connection != nil
                let read = readable && socketUp
                let write = state.wantsWrite && socketUp && (writable || !waitWritable)
                if read || write || !jobs.isEmpty {
                    state.busy = read || write
                    return .work(state.connection!, read: read, write: write, jobs: jobs)
                }
                state.sleeping = true
                return .poll(socket: state.socket, write: state.wantsWrite)
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
                        let detached = self.state.withLock { $0.detached }
                        if !detached { natsConnection_ProcessWriteEvent(nc) }
                    }
                    waitWritable = write && self.state.withLock { $0.wantsWrite }
                    self.state.withLock { $0.busy = false }
                    self.state.broadcast()
                }
                for job in jobs { job() }
            case .poll(let socket, let write):
                fds[0] = pollfd(fd: self.wakeReader, events: Int16(POLLIN), revents: 0)
                fds[1] = pollfd(fd: socket, events: Int16(POLLIN) | (write ? Int16(POLLOUT) : 0), revents: 0)
                let count = poll(fds, socket >= 0 ? 2 : 1, -1)
                self.state.withLock { state in
                    state.sleeping = false
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
                        if writable { waitWritable = false }
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
