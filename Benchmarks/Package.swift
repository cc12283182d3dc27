// swift-tools-version: 6.2

import PackageDescription

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
        )
    ]
)
