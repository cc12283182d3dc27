import Hemera
import OTel
import ObservedShop

// Bootstrap swift-otel first: it becomes the process's metrics factory and tracer, and every
// Hemera instance created afterwards reports to it. Configure it with the usual OTEL_*
// environment variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL=http/json, ...).
var configuration = OTel.Configuration.default
configuration.serviceName = "hemera-observability-example"
configuration.logs.enabled = false
configuration.metrics.exportInterval = .seconds(1)
configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
let observability = try OTel.bootstrap(configuration: configuration)

let url = CommandLine.arguments.dropFirst().first
try await withThrowingTaskGroup { group in
    group.addTask { try await observability.run() }
    try await runObservedShop(url: url, calls: 20)
    // Long enough for one more export of spans and metrics, then stop the exporters.
    try await Task.sleep(for: .seconds(2))
    group.cancelAll()
}
