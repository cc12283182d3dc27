// swift-tools-version: 6.2

// Exporting swift-hemera's metrics and spans: two small programs, each bootstrapping a backend
// before creating its Hemera instances. Its own package, so the core library's build never pulls
// in the exporters (swift-otel alone takes minutes to build): `make example-observability`.

import Foundation
import PackageDescription

// A path dependency is identified by its directory name, which depends on where the repository
// was cloned: derive it instead of hard-coding it.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "hemera-observability-example",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        // OTLP over HTTP only (the gRPC exporter is a larger build).
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    ],
    targets: [
        // The services and calls both programs run: a service that makes a nested act.
        .target(
            name: "ObservedShop",
            dependencies: [
                .product(name: "Hemera", package: root),
                .product(name: "HemeraTesting", package: root),
            ]
        ),
        // Metrics and spans to an OpenTelemetry collector (OTLP/HTTP); scripts/otlp_check.py runs
        // it against a small receiver and checks the trace and the metrics.
        .executableTarget(
            name: "OTelExample",
            dependencies: ["ObservedShop", .product(name: "OTel", package: "swift-otel")]
        ),
        // Metrics in the Prometheus text format, as a /metrics endpoint would serve them.
        .executableTarget(
            name: "PrometheusExample",
            dependencies: [
                "ObservedShop",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.treatAllWarnings(as: .error))
    target.swiftSettings = settings
}
