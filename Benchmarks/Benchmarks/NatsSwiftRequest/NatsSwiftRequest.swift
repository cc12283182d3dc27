// The pure-Swift client nats.swift (0.4.0) on the same workloads as NATSRequest: request/reply
// one in flight (p50/p99) and pipelined at 16, 256 and 1024 in flight (requests/s), against the
// same raw cnats responder (send-asap, fixed 100-byte payload) and raw cnats in the same run.
//
// Opt-in: declared only with HEMERA_BENCH_NATS_SWIFT=1 (see Package.swift). nats.swift 0.4.0
// does NOT build on Linux as published (Apple-only APIs in it and its dependencies); this target
// is kept ready for machines where it builds (macOS) and was not compiled on the Linux VM.

import Benchmark
import BenchSupport
import Foundation
import HemeraTesting
import Nats

let payload = [UInt8](repeating: 0x61, count: 100)
let payloadData = Data(payload)

final class Fixture: @unchecked Sendable {
    // @unchecked Sendable: set up before the benchmarks run and read-only afterwards.
    let server: NATSTestServer
    let responder: RawResponder
    let rawSequential: RawRequester
    let rawPipeline: RawPipeline
    let client: NatsClient

    init() async throws {
        self.server = NATSTestServer()
        try await self.server.start()
        let url = self.server.url
        self.responder = try RawResponder(url: url, subject: "bench.echo", reply: payload)
        self.rawSequential = try RawRequester(url: url)
        self.rawPipeline = try RawPipeline(url: url, bufferSize: 4096)
        self.client = NatsClientOptions().url(URL(string: url)!).build()
        try await self.client.connect()
    }
}

nonisolated(unsafe) var fixture: Fixture!

let benchmarks: @Sendable () -> Void = {
    Benchmark.setup = {
        // cnats without lock spinning, as HemeraNATS opens it (the raw baseline of the other targets).
        try openCNats(lockSpinCount: 0)
        fixture = try await Fixture()
    }
    Benchmark.teardown = { fixture.server.stop() }

    Benchmark("raw cnats request, 1 in flight", configuration: latencyConfiguration()) { benchmark in
        for _ in benchmark.scaledIterations { fixture.rawSequential.request("bench.echo", payload) }
    }
    Benchmark("nats.swift request, 1 in flight", configuration: latencyConfiguration()) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try await fixture.client.request(payloadData, subject: "bench.echo", timeout: 5))
        }
    }
    for window in [16, 256, 1024] {
        let requests = requestsPerSample(window: window)
        Benchmark("raw cnats pipelined, \(window) in flight", configuration: throughputConfiguration()) { benchmark in
            try await measureThroughput(benchmark, requests: requests) {
                fixture.rawPipeline.run(subject: "bench.echo", payload: payload, count: requests, window: window)
            }
        }
        Benchmark("nats.swift pipelined, \(window) in flight", configuration: throughputConfiguration()) { benchmark in
            try await measureThroughput(benchmark, requests: requests) {
                try await pipelined(total: requests, window: window) {
                    blackHole(try await fixture.client.request(payloadData, subject: "bench.echo", timeout: 5))
                }
            }
        }
    }
}
