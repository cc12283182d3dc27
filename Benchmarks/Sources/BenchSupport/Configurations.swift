public import Benchmark
import Dispatch

/// Throughput of a pipelined sample, recorded per sample (larger is better).
public let requestsPerSecond = BenchmarkMetric.custom("requests/s", polarity: .prefersLarger, useScalingFactor: false)

/// The latency of each request or act, timed one by one inside the benchmark's loop (nanoseconds).
public let latency = BenchmarkMetric.custom("latency", polarity: .prefersSmaller, useScalingFactor: false)

/// 1,000 requests per iteration, each timed on its own (``latency``, the p50/p99 that `make bench`
/// reports), with the wall clock and `mallocCountTotal` per request (scaled by 1,000). Timing inside
/// the loop measures async and sync calls alike: the harness runs each iteration of an async
/// benchmark in a new `Task` started from a Dispatch queue (thread wake-ups before and after it)
/// and a sync one directly, which with one request per iteration measured typed acts ~10 µs slower
/// than back-to-back calls while the sync raw baseline stayed the same.
public func latencyConfiguration(iterations: Int = 8) -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal, latency],
        timeUnits: .microseconds,
        warmupIterations: 1,
        scalingFactor: .kilo,
        maxDuration: .seconds(1),
        maxIterations: iterations,
        // Allocations are checked against Thresholds/<Swift version>/ (p90 per iteration of 1,000
        // requests, as `benchmark thresholds check` compares them): ±1,000, one per request.
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 1_000])]
    )
}

/// One pipelined burst of `requests` per sample; reports requests/s.
public func throughputConfiguration() -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, requestsPerSecond],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(1),
        maxIterations: 10
    )
}

/// Times `body`, which makes `requests` requests, and records requests/s on `benchmark`.
public func measureThroughput(
    _ benchmark: Benchmark,
    requests: Int,
    _ body: () async throws -> Void
) async throws {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    benchmark.measurement(requestsPerSecond, Int(Double(requests) / seconds))
}

/// Requests per pipelined sample for a window.
public func requestsPerSample(window: Int) -> Int { window >= 64 ? 10_000 : 2_000 }

/// Runs `call` once per scaled iteration, recording each call's duration as a ``latency`` sample.
@inline(__always)
public func timedLoop(_ benchmark: Benchmark, _ call: () throws -> Void) rethrows {
    for _ in benchmark.scaledIterations {
        let start = DispatchTime.now().uptimeNanoseconds
        try call()
        benchmark.measurement(latency, Int(DispatchTime.now().uptimeNanoseconds - start))
    }
}

/// Runs `call` once per scaled iteration, recording each call's duration as a ``latency`` sample.
@inline(__always)
public func timedLoop(_ benchmark: Benchmark, _ call: () async throws -> Void) async rethrows {
    for _ in benchmark.scaledIterations {
        let start = DispatchTime.now().uptimeNanoseconds
        try await call()
        benchmark.measurement(latency, Int(DispatchTime.now().uptimeNanoseconds - start))
    }
}
