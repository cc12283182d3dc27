// swift-tools-version: 6.2

import PackageDescription

// Benchmarks live in their own package so that the main package does not depend on the
// benchmark harness. Run: `cd Benchmarks && swift package --allow-writing-to-package-directory benchmark`
let package = Package(
    name: "HemeraBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "swift-hemera", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "JSONBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HemeraJSON", package: "swift-hemera"),
            ],
            path: "Benchmarks/JSONBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
