import Hemera
import Metrics
import ObservedShop
import Prometheus

// Bootstrap the Prometheus factory first: every Hemera instance created afterwards records into
// its registry. A server would serve `registry.emitToString()` at /metrics.
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

try await runObservedShop(url: CommandLine.arguments.dropFirst().first, calls: 20)
print(registry.emitToString())
