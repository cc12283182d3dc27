public import Benchmark

/// Throughput of a pipelined sample, recorded per sample (larger is better).
public let requestsPerSecond = BenchmarkMetric.custom("requests/s", polarity: .prefersLarger, useScalingFactor: false)

/// One request per iteration: wall-clock percentiles are per-request latencies (p50, p99).
public func latencyConfiguration(iterations: Int = 3_000) -> Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 100,
        scalingFactor: .one,
        maxDuration: .seconds(1),
        maxIterations: iterations,
        // Allocations per request/act are checked against Thresholds/<Swift version>/ (p90, +-3).
        thresholds: [.mallocCountTotal: .init(absolute: [.p90: 3])]
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
