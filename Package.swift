// swift-tools-version: 6.2

import PackageDescription

let package = Package(
    name: "swift-hemera",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Hemera", targets: ["Hemera"]),
        .library(name: "HemeraNATS", targets: ["HemeraNATS"]),
        .library(name: "HemeraJSON", targets: ["HemeraJSON"]),
        .library(name: "HemeraTesting", targets: ["HemeraTesting"]),
        .library(name: "HemeraServiceLifecycle", targets: ["HemeraServiceLifecycle"]),
        .library(name: "HemeraGateway", targets: ["HemeraGateway"]),
        .executable(name: "hemera", targets: ["HemeraCLI"]),
        .executable(name: "hemera-demo", targets: ["HemeraDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // `swift package generate-documentation` (the DocC catalogs in Sources/*/*.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Light API packages (no backend): the facade emits metrics and spans through them.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // The HTTP gateway only (HemeraGateway, the demo, their tests): Hemera itself never links them.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // C libraries from Debian, wrapped without vendoring any C.
        .systemLibrary(
            name: "CNats",
            path: "CNats",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),

        // The pthread lock box shared by HemeraNATS and Hemera (package API; TSan-visible).
        .target(name: "HemeraLocks"),
        // The NATS layer: the only module that imports CNats.
        .target(
            name: "HemeraNATS",
            dependencies: [
                "CNats",
                "HemeraLocks",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The JSON layer, pure Swift: one reader (Scanner.swift) for the decoder's tape, JSONValue
        // and the envelope parser; the encoder and writer. Usable on its own. (jansson is only the
        // fuzz target's independent oracle: Sources/CJansson, outside the package graph.)
        .target(name: "HemeraJSON"),
        // The Hemera facade: patterns, add/act, context, errors, interceptors.
        .target(
            name: "Hemera",
            dependencies: [
                "HemeraLocks",
                "HemeraNATS",
                "HemeraJSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Hemera as a swift-service-lifecycle Service (SIGTERM → graceful close).
        .target(
            name: "HemeraServiceLifecycle",
            dependencies: [
                "Hemera", "HemeraNATS", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A service run by a ServiceGroup, for the SIGTERM test (and as an example).
        .executableTarget(
            name: "HemeraLifecycleExample",
            dependencies: [
                "Hemera",
                "HemeraNATS",
                "HemeraServiceLifecycle",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/LifecycleExample"
        ),
        // For users' tests: a nats-server runner (single server and cluster).
        .target(name: "HemeraTesting"),

        // Shared by the command-line tools (not a product): connecting, JSON text, signals.
        .target(
            name: "HemeraAppSupport",
            dependencies: ["Hemera", "HemeraNATS", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "HemeraCLI",
            dependencies: [
                "Hemera",
                "HemeraAppSupport",
                "HemeraNATS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The seed's demo services (math, users, products, cart) and the client tour, as a library
        // so tests can run them.
        .target(name: "HemeraDemoServices", dependencies: ["Hemera", "HemeraAppSupport"]),
        // The HTTP gateway: HTTP routes to acts on Hummingbird, errors to status codes, W3C
        // traceparent into the acts, an OpenAPI document. Its own target, so `Hemera` users do not
        // build Hummingbird.
        .target(
            name: "HemeraGateway",
            dependencies: [
                "Hemera",
                "HemeraNATS",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The article's HTTP API over the demo services (its routes) and the tour's HTTP client.
        .target(
            name: "HemeraDemoGateway",
            dependencies: [
                "Hemera",
                "HemeraAppSupport",
                "HemeraDemoServices",
                "HemeraGateway",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "HemeraDemo",
            dependencies: [
                "Hemera",
                "HemeraAppSupport",
                "HemeraDemoServices",
                "HemeraDemoGateway",
                "HemeraGateway",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The README's code examples, compiled by `swift build` and `make test`.
        .target(
            name: "ReadmeExamples",
            dependencies: [
                "Hemera", "HemeraNATS", "HemeraServiceLifecycle", "HemeraTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/ReadmeExamples"
        ),

        .testTarget(name: "HemeraNATSTests", dependencies: ["HemeraNATS", "HemeraTesting", "CNats"]),
        .testTarget(name: "HemeraJSONTests", dependencies: ["HemeraJSON"]),
        .testTarget(
            name: "HemeraReliabilityTests",
            dependencies: [
                "Hemera", "HemeraLocks", "HemeraNATS", "HemeraTesting", "HemeraServiceLifecycle", "HemeraLifecycleExample",
                "HemeraDemoServices",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HemeraTests",
            dependencies: [
                "Hemera", "HemeraLocks", "HemeraNATS", "HemeraTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "HemeraDemoTests",
            dependencies: [
                "Hemera", "HemeraAppSupport", "HemeraDemoGateway", "HemeraDemoServices", "HemeraNATS", "HemeraTesting",
                "ReadmeExamples",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "HemeraGatewayTests",
            dependencies: [
                "Hemera", "HemeraDemoGateway", "HemeraDemoServices", "HemeraGateway", "HemeraLocks", "HemeraTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)

// One settings list for every Swift target.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.swiftLanguageMode(.v6))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    settings.append(.treatAllWarnings(as: .error))
    target.swiftSettings = settings
}
