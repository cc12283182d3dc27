// swift-tools-version: 6.2

import Foundation
import PackageDescription

// A path dependency is identified by its directory name, which depends on where the repository
// was cloned: derive it instead of hard-coding it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

/// nats.swift is declared only with HEMERA_BENCH_NATS_SWIFT=1, so the default build never
/// resolves it. nats.swift 0.4.0 does not build on Linux as published (Apple-only APIs in it and
/// its dependencies): enable it where it builds (macOS).
let withNatsSwift = ProcessInfo.processInfo.environment["HEMERA_BENCH_NATS_SWIFT"] == "1"

let package = Package(
    name: "swift-hemera-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    ],
    targets: [
        // Raw cnats for the baselines (the library itself uses CNats from the root package).
        .systemLibrary(name: "CNatsRaw", path: "Sources/CNatsRaw", pkgConfig: "libnats"),
        // The raw cnats baselines and the shared workloads (pipelining, throughput metric).
        .target(
            name: "BenchSupport",
            dependencies: ["CNatsRaw", .product(name: "Benchmark", package: "benchmark")],
            path: "Sources/BenchSupport"
        ),
        // The NATS layer against raw cnats: latency, pipelining at 1…1024 in flight, publish.
        .executableTarget(
            name: "NATSRequest",
            dependencies: [
                "BenchSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HemeraNATS", package: root),
                .product(name: "HemeraTesting", package: root),
            ],
            path: "Benchmarks/NATSRequest",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Hemera act (typed, untyped; 100 B, 1 KiB, 16 KiB) against HemeraNATS and raw cnats.
        .executableTarget(
            name: "HemeraAct",
            dependencies: [
                "BenchSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Hemera", package: root),
                .product(name: "HemeraJSON", package: root),
                .product(name: "HemeraNATS", package: root),
                .product(name: "HemeraTesting", package: root),
            ],
            path: "Benchmarks/HemeraAct",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Diagnostics (not a benchmark): CPU µs and context switches per request, ours and
        // nats-server's (docs/performance.md, "probe" figures).
        .executableTarget(
            name: "CostProbe",
            dependencies: [
                "BenchSupport",
                .product(name: "Hemera", package: root),
                .product(name: "HemeraNATS", package: root),
                .product(name: "HemeraTesting", package: root),
            ],
            path: "Sources/CostProbe"
        ),
        // The JSON shapes of issue 11 (envelope with trace, product list, five strings, 64 KB of
        // records), shared by JSONBenchmarks and JSONRatio.
        .target(name: "JSONShapes", path: "Sources/JSONShapes"),
        // What metrics and tracing cost per act, off and on (instructions under callgrind).
        .executableTarget(
            name: "ObservabilityProbe",
            dependencies: [
                .product(name: "Hemera", package: root),
                .product(name: "HemeraTesting", package: root),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/ObservabilityProbe"
        ),
        // HemeraJSON against Foundation's JSONEncoder/JSONDecoder.
        .executableTarget(
            name: "ActProbe",
            dependencies: [
                .product(name: "Hemera", package: root),
                .product(name: "HemeraNATS", package: root),
                .product(name: "HemeraTesting", package: root),
            ],
            path: "Sources/ActProbe"
        ),
        .executableTarget(
            name: "JSONBenchmarks",
            dependencies: [
                "JSONShapes",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HemeraJSON", package: root),
            ],
            path: "Benchmarks/JSONBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Interleaved HemeraJSON/Foundation ratios on the same shapes, medians over rounds (not a
        // benchmark: `swift run -c release JSONRatio`; docs/performance.md).
        .executableTarget(
            name: "JSONRatio",
            dependencies: ["JSONShapes", .product(name: "HemeraJSON", package: root)],
            path: "Sources/JSONRatio"
        ),
    ]
)

if withNatsSwift {
    package.dependencies.append(.package(url: "https://github.com/nats-io/nats.swift", exact: "0.4.0"))
    package.targets.append(
        .executableTarget(
            name: "NatsSwiftRequest",
            dependencies: [
                "BenchSupport",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HemeraTesting", package: root),
                .product(name: "Nats", package: "nats.swift"),
            ],
            path: "Benchmarks/NatsSwiftRequest",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
