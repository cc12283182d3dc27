// Hemera act (typed and untyped, JSON both ways) against the NATS layer's request (the cost of
// Hemera) and raw cnats (the ceiling), same server, same run.
//
// Payloads of ~100 B, 1 KiB and 16 KiB: the request carries `data` of that size and the reply
// echoes it. Raw cnats and HemeraNATS requests go to a raw send-asap responder answering a
// fixed payload of the same size; acts go from a client to a service each connected with
// `Hemera.connect(url:)`, i.e. with the settings a user gets by default (coalesced writes since
// issue 12), unless a benchmark's name says otherwise.
//
// Latency benchmarks make one request per iteration (wall-clock p50/p99 per request, mallocs
// per act); pipelined ones report requests/s with W in flight from one task per lane.

import Benchmark
import BenchSupport
import Hemera
import HemeraJSON
import HemeraNATS
import HemeraTesting

/// The typed pattern: `{"topic":"bench","cmd":"echo","data":…}`.
struct Echo: HemeraPattern {
    static let topic = "bench"
    static let cmd: String? = "echo"
    typealias Reply = Echoed
    var data: String
}

/// The same pattern on its own topic, answered by the service on a coalesced connection (a second
/// service on `bench` would share its queue group and take half of its requests).
struct EchoCoalesced: HemeraPattern {
    static let topic = "benchc"
    static let cmd: String? = "echo"
    typealias Reply = Echoed
    var data: String
}

struct Echoed: Codable, Sendable {
    var data: String
    var size: Int
}

/// The sizes, named for the table.
let sizes: [(name: String, bytes: Int)] = [("100 B", 100), ("1 KiB", 1024), ("16 KiB", 16 * 1024)]
let bufferSize = 4096

final class Fixture: @unchecked Sendable {
    // @unchecked Sendable: set up before the benchmarks run and read-only afterwards.
    let server: NATSTestServer
    let rawResponders: [RawResponder]
    let rawSequential: RawRequester
    let rawPipeline: RawPipeline
    let service: Hemera
    /// `Hemera.connect(url:)` with default options: what "act …" benchmarks measure.
    let client: Hemera
    let clientNoHeader: Hemera
    let clientAsap: Hemera
    /// Without deadline propagation: no NATS header on requests (the cost of the header).
    let natsAsap: NATSConnection
    let natsBuffered: NATSConnection
    /// A second service and client on connections in the coalesced write mode (cnats' event loop,
    /// `NATSOptions.WriteMode.coalesced`), for the pipelined comparison.
    let serviceCoalesced: Hemera
    let natsCoalesced: NATSConnection
    let clientCoalesced: Hemera

    init() async throws {
        self.server = NATSTestServer()
        try await self.server.start()
        let url = self.server.url
        self.rawResponders = try sizes.map { size in
            try RawResponder(url: url, subject: "raw.\(size.bytes)", reply: Array(#"{"data":""#.utf8) + Array(text(size.bytes).utf8) + Array(#"","size":1}"#.utf8))
        }
        self.rawSequential = try RawRequester(url: url)
        self.rawPipeline = try RawPipeline(url: url, bufferSize: bufferSize)

        self.service = try await Hemera.connect(url: url, options: HemeraOptions(app: "bench-service"))
        try self.service.add(Echo.self) { request, _ in Echoed(data: request.data, size: request.data.utf8.count) }
        try self.service.add(["topic": "bench-u", "cmd": "echo"]) { pattern, _ in
            .object(["data": pattern["data"] ?? .null, "size": .integer(1)])
        }
        try await self.service.ready(timeout: .seconds(5))
        var coalesced = NATSOptions(url: url)
        coalesced.writeMode = .coalesced()
        self.serviceCoalesced = Hemera(
            transport: NATSTransport(connection: try await NATSConnection.connect(coalesced)),
            options: HemeraOptions(app: "bench-service-coalesced"),
            closeTransport: true
        )
        try self.serviceCoalesced.add(EchoCoalesced.self) { request, _ in
            Echoed(data: request.data, size: request.data.utf8.count)
        }
        try await self.serviceCoalesced.ready(timeout: .seconds(5))
        self.natsCoalesced = try await NATSConnection.connect(coalesced)
        self.clientCoalesced = Hemera(
            transport: NATSTransport(connection: self.natsCoalesced),
            options: HemeraOptions(app: "bench")
        )

        var asap = NATSOptions(url: url)
        asap.writeMode = .sendAsap
        self.natsAsap = try await NATSConnection.connect(asap)
        self.clientAsap = Hemera(transport: NATSTransport(connection: self.natsAsap), options: HemeraOptions(app: "bench"))
        var buffered = NATSOptions(url: url)
        buffered.writeMode = .buffered(bufferSize: bufferSize)
        self.natsBuffered = try await NATSConnection.connect(buffered)
        var noHeader = HemeraOptions(app: "bench")
        noHeader.propagatesDeadline = false
        self.client = try await Hemera.connect(url: url, options: HemeraOptions(app: "bench"))
        self.clientNoHeader = Hemera(transport: self.client.transport, options: noHeader)
    }
}

nonisolated(unsafe) var fixture: Fixture!

func untyped(_ data: String) -> Pattern { ["topic": "bench-u", "cmd": "echo", "data": .string(data)] }

let benchmarks: @Sendable () -> Void = {
    Benchmark.setup = {
        // cnats opened as HemeraNATS opens it (no lock spinning) before the raw baseline's first
        // connection, so raw cnats and the library run with the same library-wide setting.
        try NATSLibrary.open(lockSpinCount: 0)
        fixture = try await Fixture()
    }
    Benchmark.teardown = { fixture.server.stop() }

    for size in sizes {
        let data = text(size.bytes)
        let request = Array(#"{"data":""#.utf8) + Array(data.utf8) + Array(#""}"#.utf8)
        let subject = "raw.\(size.bytes)"
        let typed = Echo(data: data)
        let pattern = untyped(data)

        Benchmark("raw cnats request \(size.name), 1 in flight", configuration: latencyConfiguration()) { benchmark in
            timedLoop(benchmark) { fixture.rawSequential.request(subject, request) }
        }
        Benchmark("HemeraNATS request \(size.name), 1 in flight", configuration: latencyConfiguration()) {
            benchmark in
            try await timedLoop(benchmark) {
                blackHole(try await fixture.natsAsap.request(to: subject, payload: request, timeout: .seconds(5)))
            }
        }
        Benchmark("act typed \(size.name), 1 in flight", configuration: latencyConfiguration()) { benchmark in
            try await timedLoop(benchmark) { blackHole(try await fixture.client.act(typed)) }
        }
        if size.bytes == 100 {
            // Resumed on the reply thread (NATSReplyExecutor): no hop to Swift's pool per reply.
            Benchmark("act typed 100 B, 1 in flight, reply executor", configuration: latencyConfiguration()) {
                benchmark in
                try await withTaskExecutorPreference(fixture.client.replyExecutor) {
                    try await timedLoop(benchmark) { blackHole(try await fixture.client.act(typed)) }
                }
            }
            // The service on a coalesced connection (the client stays send-asap).
            Benchmark("act typed 100 B, 1 in flight, coalesced service", configuration: latencyConfiguration()) {
                benchmark in
                let typedCoalesced = EchoCoalesced(data: data)
                try await timedLoop(benchmark) { blackHole(try await fixture.clientAsap.act(typedCoalesced)) }
            }
            // Client and service on coalesced connections.
            Benchmark("act typed pipelined 100 B, 256 in flight, coalesced", configuration: throughputConfiguration()) {
                benchmark in
                let typedCoalesced = EchoCoalesced(data: data)
                try await measureThroughput(benchmark, requests: 10_000) {
                    try await pipelined(total: 10_000, window: 256) {
                        blackHole(try await fixture.clientCoalesced.act(typedCoalesced))
                    }
                }
            }
            Benchmark("act typed 100 B, 1 in flight, no deadline header", configuration: latencyConfiguration()) {
                benchmark in
                try await timedLoop(benchmark) { blackHole(try await fixture.clientNoHeader.act(typed)) }
            }
            Benchmark("act typed pipelined 100 B, 256 in flight, no deadline header", configuration: throughputConfiguration()) {
                benchmark in
                try await measureThroughput(benchmark, requests: 10_000) {
                    try await pipelined(total: 10_000, window: 256) {
                        blackHole(try await fixture.clientNoHeader.act(typed))
                    }
                }
            }
        }
        if size.bytes == 100 {
            // The service side alone: HemeraNATS requests carrying a prebuilt request envelope.
            let envelope = Array(
                (#"{"pattern":{"topic":"bench","cmd":"echo","data":""# + data
                    + #""},"meta":{},"delegate":{},"trace":{"traceId":"T1","spanId":"S1","timestamp":1,"service":"bench","method":"cmd:echo,topic:bench"},"request":{"id":"R1","type":"request","service":"bench","method":"cmd:echo,topic:bench"}}"#)
                    .utf8
            )
            Benchmark("HemeraNATS request to the Hemera service 100 B, 256 in flight", configuration: throughputConfiguration()) {
                benchmark in
                try await measureThroughput(benchmark, requests: 10_000) {
                    try await pipelined(total: 10_000, window: 256) {
                        blackHole(try await fixture.natsBuffered.request(to: "bench", payload: envelope, timeout: .seconds(5)))
                    }
                }
            }
        }
        Benchmark("act untyped \(size.name), 1 in flight", configuration: latencyConfiguration()) { benchmark in
            try await timedLoop(benchmark) { blackHole(try await fixture.client.act(pattern)) }
        }

        let windows = size.bytes == 100 ? [16, 256] : [256]
        for window in windows {
            let requests = size.bytes > 1024 ? 2_000 : requestsPerSample(window: window)
            Benchmark("raw cnats pipelined \(size.name), \(window) in flight", configuration: throughputConfiguration()) {
                benchmark in
                try await measureThroughput(benchmark, requests: requests) {
                    fixture.rawPipeline.run(subject: subject, payload: request, count: requests, window: window)
                }
            }
            Benchmark("HemeraNATS pipelined \(size.name), \(window) in flight", configuration: throughputConfiguration()) {
                benchmark in
                try await measureThroughput(benchmark, requests: requests) {
                    try await pipelined(total: requests, window: window) {
                        blackHole(try await fixture.natsBuffered.request(to: subject, payload: request, timeout: .seconds(5)))
                    }
                }
            }
            Benchmark("act typed pipelined \(size.name), \(window) in flight", configuration: throughputConfiguration()) {
                benchmark in
                try await measureThroughput(benchmark, requests: requests) {
                    try await pipelined(total: requests, window: window) {
                        blackHole(try await fixture.client.act(typed))
                    }
                }
            }
            Benchmark("act untyped pipelined \(size.name), \(window) in flight", configuration: throughputConfiguration()) {
                benchmark in
                try await measureThroughput(benchmark, requests: requests) {
                    try await pipelined(total: requests, window: window) {
                        blackHole(try await fixture.client.act(pattern))
                    }
                }
            }
        }
    }
}
