// Raw cnats driven directly through the C API: the baselines every benchmark compares against,
// in the same run and on the same nats-server.
//
// Baseline (as defined in the NATS layer's issue): a responder on its own connection with
// send-asap answering a fixed payload; sequential = `natsConnection_Request`; pipelined =
// publishes with reply subjects `<inbox>.<n>` on one wildcard inbox subscription, W in flight.

public import CNatsRaw
import Foundation

public struct CNatsError: Error, CustomStringConvertible {
    public let status: natsStatus
    public var description: String { "cnats status \(status.rawValue): \(String(cString: natsStatus_GetText(status)))" }
}

public func ok(_ status: natsStatus) throws {
    if status != NATS_OK { throw CNatsError(status: status) }
}

/// A raw connection; `bufferSize` sets cnats' IO buffer (nil: its default, 32 KiB).
public func rawConnect(_ url: String, sendAsap: Bool, bufferSize: Int? = nil) throws -> OpaquePointer {
    var options: OpaquePointer?
    try ok(natsOptions_Create(&options))
    defer { natsOptions_Destroy(options) }
    try ok(natsOptions_SetURL(options, url))
    try ok(natsOptions_SetSendAsap(options, sendAsap))
    if let bufferSize { try ok(natsOptions_SetIOBufSize(options, Int32(bufferSize))) }
    var nc: OpaquePointer?
    try ok(natsConnection_Connect(&nc, options))
    return nc!
}

/// A responder on its own send-asap connection answering every request on `subject` with a fixed
/// payload (the raw baseline's responder).
public final class RawResponder: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; the C callback only reads `reply`.
    public let nc: OpaquePointer
    var sub: OpaquePointer?
    let reply: [UInt8]

    public init(url: String, subject: String, reply: [UInt8]) throws {
        self.nc = try rawConnect(url, sendAsap: true)
        self.reply = reply
        try ok(
            natsConnection_Subscribe(
                &self.sub,
                self.nc,
                subject,
                { nc, _, msg, closure in
                    guard let msg else { return }
                    let responder = Unmanaged<RawResponder>.fromOpaque(closure!).takeUnretainedValue()
                    responder.reply.withUnsafeBytes { bytes in
                        _ = natsConnection_Publish(nc, natsMsg_GetReply(msg), bytes.baseAddress, Int32(bytes.count))
                    }
                    natsMsg_Destroy(msg)
                },
                Unmanaged.passUnretained(self).toOpaque()  // lives as long as the process
            )
        )
        try ok(natsConnection_Flush(self.nc))
    }
}

/// Raw sequential request/reply: `natsConnection_Request` (one in flight).
public final class RawRequester: @unchecked Sendable {
    // @unchecked Sendable: used by one benchmark at a time.
    public let nc: OpaquePointer

    public init(url: String) throws {
        self.nc = try rawConnect(url, sendAsap: false)
    }

    public func request(_ subject: String, _ payload: [UInt8]) {
        var reply: OpaquePointer?
        let status = payload.withUnsafeBytes { bytes in
            natsConnection_Request(&reply, self.nc, subject, bytes.baseAddress, Int32(bytes.count), 5000)
        }
        precondition(status == NATS_OK, "natsConnection_Request failed: \(status)")
        natsMsg_Destroy(reply)
    }
}

/// Raw cnats pipelining: W requests in flight on one wildcard inbox subscription.
public final class RawPipeline: @unchecked Sendable {
    // @unchecked Sendable: counters guarded by `mutex`; `run` is called by one benchmark at a time.
    public let nc: OpaquePointer
    var sub: OpaquePointer?
    let prefix: [CChar]
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var completed = 0

    public init(url: String, bufferSize: Int? = nil) throws {
        self.nc = try rawConnect(url, sendAsap: false, bufferSize: bufferSize)
        pthread_mutex_init(self.mutex, nil)
        pthread_cond_init(self.condition, nil)
        let inbox = "_INBOX.raw\(UInt32.random(in: 0...UInt32.max))"
        self.prefix = Array(inbox.utf8CString.dropLast()) + [46]  // "<inbox>."
        try ok(
            natsConnection_Subscribe(
                &self.sub,
                self.nc,
                inbox + ".*",
                { _, _, msg, closure in
                    natsMsg_Destroy(msg)
                    let pipeline = Unmanaged<RawPipeline>.fromOpaque(closure!).takeUnretainedValue()
                    pthread_mutex_lock(pipeline.mutex)
                    pipeline.completed += 1
                    pthread_cond_signal(pipeline.condition)
                    pthread_mutex_unlock(pipeline.mutex)
                },
                Unmanaged.passUnretained(self).toOpaque()
            )
        )  // lives as long as the process
        try ok(natsConnection_Flush(self.nc))
    }

    public func run(subject: String, payload: [UInt8], count: Int, window: Int) {
        pthread_mutex_lock(self.mutex)
        self.completed = 0
        pthread_mutex_unlock(self.mutex)
        var sent = 0
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: self.prefix.count + 21) { buffer in
            for (index, char) in self.prefix.enumerated() { buffer[index] = char }
            while sent < count {
                pthread_mutex_lock(self.mutex)
                while sent - self.completed >= window { pthread_cond_wait(self.condition, self.mutex) }
                pthread_mutex_unlock(self.mutex)
                var index = self.prefix.count
                var digits: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar,
                             CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) =
                    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                var length = 0
                var value = sent
                withUnsafeMutableBytes(of: &digits) { digitBytes in
                    repeat {
                        digitBytes[length] = UInt8(48 + value % 10)
                        value /= 10
                        length += 1
                    } while value > 0
                    for position in stride(from: length - 1, through: 0, by: -1) {
                        buffer[index] = CChar(bitPattern: digitBytes[position])
                        index += 1
                    }
                }
                buffer[index] = 0
                payload.withUnsafeBytes { bytes in
                    _ = natsConnection_PublishRequest(
                        self.nc, subject, buffer.baseAddress, bytes.baseAddress, Int32(bytes.count))
                }
                sent += 1
            }
        }
        pthread_mutex_lock(self.mutex)
        while self.completed < count { pthread_cond_wait(self.condition, self.mutex) }
        pthread_mutex_unlock(self.mutex)
    }
}

/// Raw publishing: `count` publishes, then a flush (so the time covers reaching the server).
public func rawPublish(_ nc: OpaquePointer, subject: String, payload: [UInt8], count: Int) throws {
    try payload.withUnsafeBytes { bytes in
        for _ in 0..<count {
            try ok(natsConnection_Publish(nc, subject, bytes.baseAddress, Int32(bytes.count)))
        }
    }
    try ok(natsConnection_Flush(nc))
}

/// Runs `total` calls of `call` with `window` of them in flight (one task per lane).
public func pipelined(
    total: Int,
    window: Int,
    _ call: @escaping @Sendable () async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for lane in 0..<min(window, total) {
            group.addTask {
                var index = lane
                while index < total {
                    try await call()
                    index += window
                }
            }
        }
        try await group.waitForAll()
    }
}

/// `count` bytes of JSON-safe text.
public func text(_ count: Int) -> String { String(repeating: "a", count: count) }

/// Opens cnats with `lockSpinCount` before anything else uses it (HemeraNATS opens it with 0): call
/// first in a benchmark's setup so raw cnats runs with the same library-wide setting.
public func openCNats(lockSpinCount: Int64) throws {
    try ok(nats_Open(lockSpinCount))
}
