// ObservabilityProbe: what metrics and tracing cost per act, off and on, in instructions.
//
// One process holds a typed Hemera service and its client over a real nats-server (started
// through HemeraTesting), so an act's client side and its request's service side are both in it.
// It prints this process's CPU time per act (getrusage over the timed acts). Run it pinned, with
// nats-server on the other CPU, alternating the modes, and compare medians:
//
//   cd Benchmarks && swift build -c release --product ObservabilityProbe
//   taskset -c 1 nats-server -a 127.0.0.1 -p 14222 &
//   for i in 1 2 3 4 5; do for m in off metrics tracing both; do
//     PROBE_URL=nats://127.0.0.1:14222 taskset -c 0 .build/release/ObservabilityProbe 20000 $m; done; done
//
// (valgrind 3.19's callgrind dies on this program here: an internal SIGSEGV.)
//
// Arguments: acts to time (after 300 warm-up acts), then `off` (nothing bootstrapped: the default),
// `metrics` (a metrics backend whose handlers do nothing, so the cost is Hemera's own), `tracing`
// (a tracer whose spans do nothing and which propagates a `traceparent`), or `both`.

import CoreMetrics
import Hemera
import HemeraTesting

#if canImport(Glibc)
    import Glibc
#endif
import Tracing

struct Echo: HemeraPattern {
    static let topic = "probe"
    static let cmd: String? = "echo"
    typealias Reply = Int
    var value: Int
}

/// A metrics backend whose handlers discard everything: Hemera sees a backend (it is not
/// `NOOPMetricsHandler`) and does all its own work.
struct DiscardingMetrics: MetricsFactory {
    final class Handler: CounterHandler, MeterHandler, RecorderHandler, TimerHandler, Sendable {
        func increment(by: Int64) {}
        func reset() {}
        func set(_ value: Int64) {}
        func set(_ value: Double) {}
        func increment(by: Double) {}
        func decrement(by: Double) {}
        func record(_ value: Int64) {}
        func record(_ value: Double) {}
        func recordNanoseconds(_ duration: Int64) {}
    }
    let handler = Handler()
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { handler }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler { handler }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        handler
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { handler }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

/// A tracer whose spans record nothing and which propagates a fixed `traceparent`: Hemera's own
/// cost of tracing (spans started and ended, headers injected and extracted).
struct DiscardingTracer: Tracer {
    typealias Span = NoOpTracer.NoOpSpan
    func startSpan<Instant: TracerInstant>(
        _ operationName: String,
        context: @autoclosure () -> ServiceContext,
        ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant,
        function: String,
        file fileID: String,
        line: UInt
    ) -> NoOpTracer.NoOpSpan {
        NoOpTracer.NoOpSpan(context: context())
    }
    func forceFlush() {}
    func inject<Carrier, Inject: Injector>(
        _ context: ServiceContext,
        into carrier: inout Carrier,
        using injector: Inject
    )
    where Inject.Carrier == Carrier {
        injector.inject(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            forKey: "traceparent",
            into: &carrier
        )
    }
    func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier,
        into context: inout ServiceContext,
        using extractor: Extract
    )
    where Extract.Carrier == Carrier {
        _ = extractor.extract(key: "traceparent", from: carrier)
    }
}

let arguments = CommandLine.arguments.dropFirst()
let count = arguments.first.flatMap { Int($0) } ?? 2000
let mode = arguments.dropFirst().first ?? "off"
var observability = HemeraObservability()
if mode == "metrics" || mode == "both" { observability.metricsFactory = DiscardingMetrics() }
if mode == "tracing" || mode == "both" { observability.tracer = DiscardingTracer() }

// PROBE_URL: a running nats-server (valgrind does not survive the probe starting its own).
let server = NATSTestServer()
let url: String
if let given = Environment.value("PROBE_URL") {
    url = given
} else {
    try await server.start()
    url = server.url
}
var options = HemeraOptions(app: "probe")
options.observability = observability
let service = try await Hemera.connect(url: url, options: options)
try service.add(Echo.self) { echo, _ in echo.value }
try await service.ready()
let client = try await Hemera.connect(url: url, options: options)
var sum = 0
for index in 0..<300 { sum &+= try await client.act(Echo(value: index)) }
let cpuStart = cpuMicroseconds()
let wallStart = ContinuousClock.now
for index in 0..<count { sum &+= try await client.act(Echo(value: index)) }
let cpu = Double(cpuMicroseconds() - cpuStart) / Double(count)
let wall = (ContinuousClock.now - wallStart) / count
print("\(mode): \(count) acts, CPU \(cpu) µs/act (client and service, this process), wall \(wall)/act, checksum \(sum)")
await client.close()
await service.close()
if Environment.value("PROBE_URL") == nil { server.stop() }

enum Environment {
    static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        return String(cString: pointer)
    }
}

/// User and system CPU time of this process, in microseconds.
func cpuMicroseconds() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
}
