import Benchmark

let benchmarks: @Sendable () -> Void = {
    Benchmark("noop", configuration: .init(metrics: [.wallClock, .mallocCountTotal])) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(Array(repeating: 1, count: 4)) }
    }
}
