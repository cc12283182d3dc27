// Request/reply latency and pipelined throughput: HemeraNATS against raw cnats on the same
// responder and server.
//
// Responder: its own raw cnats connection with send-asap, answering a fixed 100-byte payload.
// Raw sequential: `natsConnection_Request`. Raw pipelined: publishes with reply subjects
// `<inbox>.<n>` on one wildcard inbox subscription, W in flight, default write buffer.
// HemeraNATS: `NATSConnection.request` at 1 in flight (send-asap) and at 256 in flight (buffered).
//
// Each sample makes 1,000 requests (scalingFactor .kilo): the reported time is per request.

import Benchmark
import CNatsRaw
import Foundation
import HemeraNATS
import HemeraTesting

let payload = [UInt8](repeating: 0x61, count: 100)
let window = 256

/// Everything the benchmarks share. Set up once by `Benchmark.setup`.
final class Fixture: @unchecked Sendable {
    // @unchecked Sendable: set up before the benchmarks run and read-only afterwards; the raw
    // pipeline guards its counters with its own mutex.
    let server: NATSTestServer
    let responder: OpaquePointer
    let responderSubscription: OpaquePointer
    let rawSequential: OpaquePointer
    let rawPipeline: RawPipeline
    let hemeraAsap: NATSConnection
    let hemeraBuffered: NATSConnection

    init() async throws {
        self.server = NATSTestServer()
        try await self.server.start()
        let url = self.server.url
        self.responder = try rawConnect(url, sendAsap: true)
        var sub: OpaquePointer?
        try ok(
            natsConnection_Subscribe(
                &sub,
                self.responder,
                "bench.echo",
                { nc, _, msg, _ in
                    guard let msg else { return }
                    payload.withUnsafeBytes { bytes in
                        _ = natsConnection_Publish(nc, natsMsg_GetReply(msg), bytes.baseAddress, Int32(bytes.count))
                    }
                    natsMsg_Destroy(msg)
                },
                nil
            )
        )
        self.responderSubscription = sub!
        try ok(natsConnection_Flush(self.responder))
        self.rawSequential = try rawConnect(url, sendAsap: false)
        self.rawPipeline = try RawPipeline(url: url)
        var asap = NATSOptions(url: url)
        asap.writeMode = .sendAsap
        self.hemeraAsap = try await NATSConnection.connect(asap)
        var buffered = NATSOptions(url: url)
        buffered.writeMode = .buffered()
        self.hemeraBuffered = try await NATSConnection.connect(buffered)
    }
}

struct CError: Error { let status: natsStatus }

func ok(_ status: natsStatus) throws {
    if status != NATS_OK { throw CError(status: status) }
}

func rawConnect(_ url: String, sendAsap: Bool) throws -> OpaquePointer {
    var options: OpaquePointer?
    try ok(natsOptions_Create(&options))
    defer { natsOptions_Destroy(options) }
    try ok(natsOptions_SetURL(options, url))
    try ok(natsOptions_SetSendAsap(options, sendAsap))
    var nc: OpaquePointer?
    try ok(natsConnection_Connect(&nc, options))
    return nc!
}

/// Raw cnats pipelining: W requests in flight on one wildcard inbox subscription.
final class RawPipeline {
    let nc: OpaquePointer
    var sub: OpaquePointer?
    let prefix: [CChar]
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var completed = 0

    init(url: String) throws {
        self.nc = try rawConnect(url, sendAsap: false)
        pthread_mutex_init(self.mutex, nil)
        pthread_cond_init(self.condition, nil)
        let inbox = "_INBOX.rawpipeline"
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

    func run(count: Int, window: Int) {
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
                var digits: [CChar] = []
                var value = sent
                repeat {
                    digits.append(CChar(48 + value % 10))
                    value /= 10
                } while value > 0
                for digit in digits.reversed() {
                    buffer[index] = digit
                    index += 1
                }
                buffer[index] = 0
                payload.withUnsafeBytes { bytes in
                    _ = natsConnection_PublishRequest(
                        self.nc,
                        "bench.echo",
                        buffer.baseAddress,
                        bytes.baseAddress,
                        Int32(bytes.count)
                    )
                }
                sent += 1
            }
        }
        pthread_mutex_lock(self.mutex)
        while self.completed < count { pthread_cond_wait(self.condition, self.mutex) }
        pthread_mutex_unlock(self.mutex)
    }
}

nonisolated(unsafe) var fixture: Fixture!

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 2,
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 30
    )
    Benchmark.setup = { fixture = try await Fixture() }
    Benchmark.teardown = { fixture.server.stop() }

    Benchmark("raw cnats natsConnection_Request, 1 in flight") { benchmark in
        for _ in benchmark.scaledIterations {
            var reply: OpaquePointer?
            let status = payload.withUnsafeBytes { bytes in
                natsConnection_Request(
                    &reply,
                    fixture.rawSequential,
                    "bench.echo",
                    bytes.baseAddress,
                    Int32(bytes.count),
                    5000
                )
            }
            precondition(status == NATS_OK, "natsConnection_Request failed: \(status)")
            natsMsg_Destroy(reply)
        }
    }

    Benchmark("HemeraNATS request, 1 in flight (sendAsap)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await fixture.hemeraAsap.request(to: "bench.echo", payload: payload, timeout: .seconds(5)))
        }
    }

    Benchmark("raw cnats pipelined, \(window) in flight") { benchmark in
        fixture.rawPipeline.run(count: benchmark.scaledIterations.count, window: window)
    }

    Benchmark("HemeraNATS request, \(window) in flight (buffered)") { benchmark in
        let total = benchmark.scaledIterations.count
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<window {
                group.addTask {
                    var index = lane
                    while index < total {
                        blackHole(
                            try await fixture.hemeraBuffered.request(
                                to: "bench.echo",
                                payload: payload,
                                timeout: .seconds(5)
                            )
                        )
                        index += window
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
