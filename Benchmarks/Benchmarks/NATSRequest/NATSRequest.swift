// The NATS layer (HemeraNATS) against raw cnats driven directly through CNats, same server, same
// responder, same run.
//
// - Latency, one in flight (one request per iteration: wall-clock p50/p99 are per request):
//   raw `natsConnection_Request` vs `NATSConnection.request` on a send-asap connection.
// - Pipelined at 1, 16, 64, 256, 1024 in flight (requests/s): raw publishes with reply subjects
//   on one wildcard inbox vs `NATSConnection.request` from one task per lane, both buffered.
// - Publish throughput, 100 B, then a flush.
// - Allocations per request (`mallocCountTotal` of the latency benchmarks; thresholds committed).
//
// The responder is raw cnats with send-asap, answering a fixed 100-byte payload.

import Benchmark
import BenchSupport
import HemeraNATS
import HemeraTesting

let payload = [UInt8](repeating: 0x61, count: 100)
let windows = [1, 16, 64, 256, 1024]
/// cnats IO buffer of the buffered connections (see docs/performance.md: 4 KiB measured best).
let bufferSize = 4096

final class Fixture: @unchecked Sendable {
    // @unchecked Sendable: set up before the benchmarks run and read-only afterwards.
    let server: NATSTestServer
    let responder: RawResponder
    let rawSequential: RawRequester
    let rawPipeline: RawPipeline
    let rawPipelineDefault: RawPipeline
    let rawPublisher: OpaquePointer
    let hemeraAsap: NATSConnection
    let hemeraBuffered: NATSConnection
    let hemeraBufferedDefault: NATSConnection
    /// The coalesced write mode (cnats' event loop driven by a thread of the connection).
    let hemeraCoalesced: NATSConnection

    init() async throws {
        self.server = NATSTestServer()
        try await self.server.start()
        let url = self.server.url
        self.responder = try RawResponder(url: url, subject: "bench.echo", reply: payload)
        self.rawSequential = try RawRequester(url: url)
        self.rawPipeline = try RawPipeline(url: url, bufferSize: bufferSize)
        self.rawPipelineDefault = try RawPipeline(url: url)
        self.rawPublisher = try rawConnect(url, sendAsap: false, bufferSize: bufferSize)
        var asap = NATSOptions(url: url)
        asap.writeMode = .sendAsap
        self.hemeraAsap = try await NATSConnection.connect(asap)
        var buffered = NATSOptions(url: url)
        buffered.writeMode = .buffered(bufferSize: bufferSize)
        self.hemeraBuffered = try await NATSConnection.connect(buffered)
        var bufferedDefault = NATSOptions(url: url)
        bufferedDefault.writeMode = .buffered()
        self.hemeraBufferedDefault = try await NATSConnection.connect(bufferedDefault)
        var coalesced = NATSOptions(url: url)
        coalesced.writeMode = .coalesced()
        self.hemeraCoalesced = try await NATSConnection.connect(coalesced)
    }
}

nonisolated(unsafe) var fixture: Fixture!

let benchmarks: @Sendable () -> Void = {
    Benchmark.setup = {
        // cnats opened as HemeraNATS opens it (no lock spinning) before the raw baseline's first
        // connection, so raw cnats and the library run with the same library-wide setting.
        try NATSLibrary.open(lockSpinCount: 0)
        fixture = try await Fixture()
    }
    Benchmark.teardown = { fixture.server.stop() }

    Benchmark("raw cnats request, 1 in flight", configuration: latencyConfiguration()) { benchmark in
        timedLoop(benchmark) { fixture.rawSequential.request("bench.echo", payload) }
    }

    Benchmark("HemeraNATS request, 1 in flight", configuration: latencyConfiguration()) { benchmark in
        try await timedLoop(benchmark) {
            blackHole(try await fixture.hemeraAsap.request(to: "bench.echo", payload: payload, timeout: .seconds(5)))
        }
    }

    // The same, resumed on the reply thread (NATSReplyExecutor): no hop to Swift's pool per reply.
    Benchmark("HemeraNATS request, 1 in flight, reply executor", configuration: latencyConfiguration()) { benchmark in
        try await withTaskExecutorPreference(fixture.hemeraAsap.replyExecutor) {
            try await timedLoop(benchmark) {
                blackHole(try await fixture.hemeraAsap.request(to: "bench.echo", payload: payload, timeout: .seconds(5)))
            }
        }
    }

    for window in windows {
        let requests = requestsPerSample(window: window)
        Benchmark("raw cnats pipelined, \(window) in flight", configuration: throughputConfiguration()) { benchmark in
            try await measureThroughput(benchmark, requests: requests) {
                fixture.rawPipeline.run(subject: "bench.echo", payload: payload, count: requests, window: window)
            }
        }
        Benchmark("HemeraNATS pipelined, \(window) in flight", configuration: throughputConfiguration()) { benchmark in
            try await measureThroughput(benchmark, requests: requests) {
                try await pipelined(total: requests, window: window) {
                    blackHole(
                        try await fixture.hemeraBuffered.request(to: "bench.echo", payload: payload, timeout: .seconds(5))
                    )
                }
            }
        }
    }

    // The default cnats buffer (32 KiB) at 256 in flight, for the write-path comparison.
    Benchmark("raw cnats pipelined, 256 in flight, default buffer", configuration: throughputConfiguration()) {
        benchmark in
        try await measureThroughput(benchmark, requests: 10_000) {
            fixture.rawPipelineDefault.run(subject: "bench.echo", payload: payload, count: 10_000, window: 256)
        }
    }
    Benchmark("HemeraNATS pipelined, 256 in flight, default buffer", configuration: throughputConfiguration()) {
        benchmark in
        try await measureThroughput(benchmark, requests: 10_000) {
            try await pipelined(total: 10_000, window: 256) {
                blackHole(
                    try await fixture.hemeraBufferedDefault.request(
                        to: "bench.echo", payload: payload, timeout: .seconds(5))
                )
            }
        }
    }

    // The coalesced write mode at 256 and 1024 in flight: every publish leaves as soon as the
    // connection's loop thread runs, batched with whatever else was published meanwhile.
    for window in [256, 1024] {
        Benchmark("HemeraNATS pipelined, \(window) in flight, coalesced", configuration: throughputConfiguration()) {
            benchmark in
            let requests = requestsPerSample(window: window)
            try await measureThroughput(benchmark, requests: requests) {
                try await pipelined(total: requests, window: window) {
                    blackHole(
                        try await fixture.hemeraCoalesced.request(to: "bench.echo", payload: payload, timeout: .seconds(5))
                    )
                }
            }
        }
    }

    let publishes = 100_000
    Benchmark("raw cnats publish 100 B", configuration: throughputConfiguration()) { benchmark in
        try await measureThroughput(benchmark, requests: publishes) {
            try rawPublish(fixture.rawPublisher, subject: "bench.sink", payload: payload, count: publishes)
        }
    }
    Benchmark("HemeraNATS publish 100 B", configuration: throughputConfiguration()) { benchmark in
        try await measureThroughput(benchmark, requests: publishes) {
            for _ in 0..<publishes { try fixture.hemeraBuffered.publish(to: "bench.sink", payload: payload) }
            try await fixture.hemeraBuffered.flush(timeout: .seconds(5))
        }
    }
}
