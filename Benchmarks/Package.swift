// swift-tools-version: 6.2

import Foundation
import PackageDescription

// A path dependency is identified by its directory name, which depends on where the repository
// was cloned: derive it instead of hard-coding it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "swift-hemera-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Smoke",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/Smoke",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Raw cnats for the baseline of the NATS request benchmarks.
        .systemLibrary(name: "CNatsRaw", path: "Sources/CNatsRaw", pkgConfig: "libnats"),
        .executableTarget(
            name: "NATSRequest",
            dependencies: [
                "CNatsRaw",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HemeraNATS", package: root),
                .product(name: "HemeraTesting", package: root),
            ],
            path: "Benchmarks/NATSRequest",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // HemeraJSON against Foundation's JSONEncoder/JSONDecoder.
        .executableTarget(
            name: "JSONBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HemeraJSON", package: root),
            ],
            path: "Benchmarks/JSONBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
