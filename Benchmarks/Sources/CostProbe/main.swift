// CostProbe: where the time of a request goes, as CPU and thread wake-ups rather than wall time.
//
// Pinned to one CPU (`taskset -c 0`), a round trip is pure CPU: wall time per request equals this
// process's CPU time plus nats-server's. The probe prints, per workload, p50/p90/p99 latency,
// context switches per request (this process, and nats-server), CPU µs per request (both), and
// wall µs per request; with `P…` workloads, requests/s at W in flight. Every figure in
// docs/performance.md marked "probe" comes from it.
//
//   cd Benchmarks && swift build -c release --product CostProbe
//   taskset -c 0 .build/release/CostProbe 8000 raw nats natsX svc typed typedX typednh untyped
//   PROBE_W=256 taskset -c 0 .build/release/CostProbe 8000 Praw Pnats Psvc Ptyped
//
// Arguments: requests per latency workload (default 20,000), then the workloads (default all).
// Environment: PROBE_W (requests in flight for P… workloads, default 256); PROBE_GLOBAL=1 (cnats'
// global delivery pool on the library's connections); PROBE_SPIN (cnats lock spin count given to
// `NATSLibrary.open` before anything connects; default 0 as the library).
//
// Coalesced write mode (NATSOptions.WriteMode.coalesced, the event loop): PsvcC / svcC (the service
// on a coalesced connection; compare Psvc / svc, send-asap), PsvcB / svcB (the service buffered,
// 4 KiB), PnatsC / natsC (the client coalesced; compare Pnats / nats), PsvcCC (both coalesced),
// PtypedC / typedC (typed act to the coalesced service), PtypedCC / typedCC (both coalesced).
//
// Workloads: raw (natsConnection_Request to a raw send-asap responder), nats (HemeraNATS request to
// it), natsX (the same under the reply executor), svc (HemeraNATS request with a prebuilt Hemera
// envelope to a Hemera service: the service side alone), typed / typedX / typednh (typed act; with
// the reply executor; without the deadline header), untyped; Praw, Pnats, Psvc, Ptyped (pipelined).

import BenchSupport
import Foundation
import Hemera
import HemeraNATS
import HemeraTesting

struct Echo: HemeraPattern {
    static let topic = "bench"
    static let cmd: String? = "echo"
    typealias Reply = Echoed
    var data: String
}

/// The same pattern on its own topic, answered by the coalesced service (a second service on
/// "bench" would share its queue group).
struct EchoC: HemeraPattern {
    static let topic = "benchc"
    static let cmd: String? = "echo"
    typealias Reply = Echoed
    var data: String
}

struct Echoed: Codable, Sendable {
    var data: String
    var size: Int
}

/// Voluntary plus involuntary context switches of every thread of `pid`.
func contextSwitches(pid: Int32) -> Int {
    var total = 0
    let directory = "/proc/\(pid)/task"
    for task in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
        guard let text = try? String(contentsOfFile: "\(directory)/\(task)/status", encoding: .utf8) else { continue }
        for line in text.split(separator: "\n")
        where line.hasPrefix("voluntary_ctxt_switches") || line.hasPrefix("nonvoluntary_ctxt_switches") {
            total += Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
        }
    }
    return total
}

/// User plus system CPU time of `pid` in clock ticks (1/100 s).
func cpuTicks(pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let fields = text.split(separator: ")").last?.split(separator: " "), fields.count > 12
    else { return 0 }
    return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)  // utime, stime (fields 14 and 15)
}

/// Process counters around a measured section.
struct Counters {
    let switches: Int, serverSwitches: Int, ticks: Int, serverTicks: Int
    init(server: Int32) {
        let me = getpid()
        switches = contextSwitches(pid: me)
        serverSwitches = contextSwitches(pid: server)
        ticks = cpuTicks(pid: me)
        serverTicks = cpuTicks(pid: server)
    }
    func perRequest(since start: Counters, count: Int) -> String {
        let n = Double(count)
        return String(
            format: "cs/op %5.2f srv %5.2f | cpu/op %5.1f µs srv %5.1f µs",
            Double(switches - start.switches) / n, Double(serverSwitches - start.serverSwitches) / n,
            Double(ticks - start.ticks) * 1e4 / n, Double(serverTicks - start.serverTicks) * 1e4 / n
        )
    }
}

func pad(_ name: String) -> String { name.padding(toLength: 34, withPad: " ", startingAt: 0) }

func measure(_ name: String, server: Int32, count: Int, _ body: () async throws -> Void) async throws {
    for _ in 0..<1000 { try await body() }
    let before = Counters(server: server)
    var samples: [UInt64] = []
    samples.reserveCapacity(count)
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<count {
        let t = DispatchTime.now().uptimeNanoseconds
        try await body()
        samples.append(DispatchTime.now().uptimeNanoseconds - t)
    }
    let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / Double(count)
    let counters = Counters(server: server).perRequest(since: before, count: count)
    samples.sort()
    func percentile(_ p: Int) -> Double { Double(samples[count * p / 100]) / 1000 }
    print(
        pad(name)
            + String(format: " p50 %6.1f p90 %6.1f p99 %7.1f µs | ", percentile(50), percentile(90), percentile(99))
            + counters + String(format: " | wall/op %5.1f", wall)
    )
}

func throughput(
    _ name: String,
    server: Int32,
    total: Int,
    window: Int,
    _ body: @escaping @Sendable () async throws -> Void
) async throws {
    try await pipelined(total: 2000, window: window, body)
    let before = Counters(server: server)
    let start = DispatchTime.now().uptimeNanoseconds
    try await pipelined(total: total, window: window, body)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let counters = Counters(server: server).perRequest(since: before, count: total)
    print(pad(name) + String(format: " W=%4d %8.0f req/s | ", window, Double(total) / seconds) + counters)
}

let environment = ProcessInfo.processInfo.environment
try NATSLibrary.open(lockSpinCount: Int(environment["PROBE_SPIN"] ?? "0") ?? 0)
let server = NATSTestServer()
try await server.start()
guard let serverPID = server.pid else { fatalError("nats-server did not start") }
let url = server.url
let data = String(repeating: "x", count: 100)
let rawRequest = Array(#"{"data":""#.utf8) + Array(data.utf8) + Array(#""}"#.utf8)
let responder = try RawResponder(
    url: url,
    subject: "raw",
    reply: Array(#"{"data":""#.utf8) + Array(data.utf8) + Array(#"","size":1}"#.utf8)
)
let rawSequential = try RawRequester(url: url)
let rawPipeline = try RawPipeline(url: url, bufferSize: 4096)

let useGlobal = environment["PROBE_GLOBAL"] == "1"
func options(_ writeMode: NATSOptions.WriteMode) -> NATSOptions {
    var options = NATSOptions(url: url)
    options.writeMode = writeMode
    options.useGlobalMessageDelivery = useGlobal
    return options
}
let service = Hemera(
    transport: NATSTransport(connection: try await NATSConnection.connect(options(.sendAsap))),
    options: HemeraOptions(app: "probe-service"),
    closeTransport: true
)
try service.add(Echo.self) { request, _ in Echoed(data: request.data, size: request.data.utf8.count) }
try service.add(["topic": "bench-u", "cmd": "echo"]) { pattern, _ in
    .object(["data": pattern["data"] ?? .null, "size": .integer(1)])
}
try await service.ready(timeout: .seconds(5))
let nats = try await NATSConnection.connect(options(.sendAsap))
let client = Hemera(transport: NATSTransport(connection: nats), options: HemeraOptions(app: "probe"))
var noHeader = HemeraOptions(app: "probe")
noHeader.propagatesDeadline = false
let clientNoHeader = Hemera(transport: NATSTransport(connection: nats), options: noHeader)
let natsBuffered = try await NATSConnection.connect(options(.buffered(bufferSize: 4096)))
let clientBuffered = Hemera(transport: NATSTransport(connection: natsBuffered), options: HemeraOptions(app: "probe"))
// The same service on connections in the coalesced write mode (event loop) and buffered (4 KiB).
let serviceCoalesced = Hemera(
    transport: NATSTransport(connection: try await NATSConnection.connect(options(.coalesced()))),
    options: HemeraOptions(app: "probe-service-c"),
    closeTransport: true
)
try serviceCoalesced.add(EchoC.self) { request, _ in Echoed(data: request.data, size: request.data.utf8.count) }
try await serviceCoalesced.ready(timeout: .seconds(5))
let serviceBuffered = Hemera(
    transport: NATSTransport(connection: try await NATSConnection.connect(options(.buffered(bufferSize: 4096)))),
    options: HemeraOptions(app: "probe-service-b"),
    closeTransport: true
)
try serviceBuffered.add(["topic": "benchb", "cmd": "echo"]) { pattern, _ in
    .object(["data": pattern["data"] ?? .null, "size": .integer(1)])
}
try await serviceBuffered.ready(timeout: .seconds(5))
let natsCoalesced = try await NATSConnection.connect(options(.coalesced()))
let clientCoalesced = Hemera(transport: NATSTransport(connection: natsCoalesced), options: HemeraOptions(app: "probe"))
let typedC = EchoC(data: data)
let typed = Echo(data: data)
let untyped: Pattern = ["topic": "bench-u", "cmd": "echo", "data": .string(data)]
let envelope = Array(
    (#"{"pattern":{"topic":"bench","cmd":"echo","data":""# + data
        + #""},"meta":{},"delegate":{},"trace":{"traceId":"T1","spanId":"S1","timestamp":1,"service":"bench","method":"cmd:echo,topic:bench"},"request":{"id":"R1","type":"request","service":"bench","method":"cmd:echo,topic:bench"}}"#)
        .utf8
)

func envelope(topic: String) -> [UInt8] {
    Array(
        (#"{"pattern":{"topic":""# + topic + #"","cmd":"echo","data":""# + data
            + #""},"meta":{},"delegate":{},"trace":{"traceId":"T1","spanId":"S1","timestamp":1,"service":""# + topic
            + #"","method":"cmd:echo,topic:"# + topic + #""},"request":{"id":"R1","type":"request","service":""# + topic
            + #"","method":"cmd:echo,topic:"# + topic + #""}}"#)
            .utf8
    )
}
let envelopeC = envelope(topic: "benchc")
let envelopeB = envelope(topic: "benchb")

let count = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 20000
let selected = Set(CommandLine.arguments.dropFirst(2))
func want(_ workload: String) -> Bool { selected.isEmpty || selected.contains(workload) }
let window = Int(environment["PROBE_W"] ?? "256") ?? 256

/// A workload: its key on the command line, its printed name, the call it repeats, and the
/// executor its callers prefer (the reply executor for the `X` workloads, else none).
struct Workload: Sendable {
    let key: String
    let name: String
    var executor: NATSReplyExecutor? = nil
    let call: @Sendable () async throws -> Void
}

let timeout = Duration.seconds(5)
/// Pipelined (`PROBE_W` in flight), in the order they run; `Praw` runs before them.
let pipelinedWorkloads: [Workload] = [
    Workload(key: "Pnats", name: "HemeraNATS->raw") {
        _ = try await natsBuffered.request(to: "raw", payload: rawRequest, timeout: timeout)
    },
    Workload(key: "PnatsX", name: "HemeraNATS->raw, reply executor", executor: natsBuffered.replyExecutor) {
        _ = try await natsBuffered.request(to: "raw", payload: rawRequest, timeout: timeout)
    },
    Workload(key: "Psvc", name: "HemeraNATS->service") {
        _ = try await natsBuffered.request(to: "bench", payload: envelope, timeout: timeout)
    },
    Workload(key: "Ptyped", name: "act typed") { _ = try await clientBuffered.act(typed) },
    Workload(key: "PtypedX", name: "act typed, reply executor", executor: natsBuffered.replyExecutor) {
        _ = try await clientBuffered.act(typed)
    },
    // Coalesced write mode (event loop). Psvc's service uses send-asap; PsvcB's a 4 KiB buffer.
    Workload(key: "PsvcC", name: "HemeraNATS->service coalesced") {
        _ = try await natsBuffered.request(to: "benchc", payload: envelopeC, timeout: timeout)
    },
    Workload(key: "PsvcB", name: "HemeraNATS->service buffered") {
        _ = try await natsBuffered.request(to: "benchb", payload: envelopeB, timeout: timeout)
    },
    Workload(key: "PnatsC", name: "HemeraNATS coalesced->raw") {
        _ = try await natsCoalesced.request(to: "raw", payload: rawRequest, timeout: timeout)
    },
    Workload(key: "PsvcCC", name: "HemeraNATS coalesced->svc coal.") {
        _ = try await natsCoalesced.request(to: "benchc", payload: envelopeC, timeout: timeout)
    },
    Workload(key: "PtypedC", name: "act typed, svc coalesced") { _ = try await clientBuffered.act(typedC) },
    Workload(key: "PtypedCC", name: "act typed, both coalesced") { _ = try await clientCoalesced.act(typedC) },
]
/// One in flight, in the order they run.
let sequentialWorkloads: [Workload] = [
    Workload(key: "raw", name: "raw cnats") { rawSequential.request("raw", rawRequest) },
    Workload(key: "nats", name: "HemeraNATS->raw") {
        _ = try await nats.request(to: "raw", payload: rawRequest, timeout: timeout)
    },
    Workload(key: "natsX", name: "HemeraNATS->raw, reply executor", executor: nats.replyExecutor) {
        _ = try await nats.request(to: "raw", payload: rawRequest, timeout: timeout)
    },
    Workload(key: "svc", name: "HemeraNATS->service") {
        _ = try await nats.request(to: "bench", payload: envelope, timeout: timeout)
    },
    Workload(key: "typed", name: "act typed") { _ = try await client.act(typed) },
    Workload(key: "typedX", name: "act typed, reply executor", executor: nats.replyExecutor) {
        _ = try await client.act(typed)
    },
    Workload(key: "typednh", name: "act typed, no deadline header") { _ = try await clientNoHeader.act(typed) },
    Workload(key: "untyped", name: "act untyped") { _ = try await client.act(untyped) },
    // Coalesced write mode (event loop), one in flight: a lone reply must still leave at once.
    Workload(key: "svcC", name: "HemeraNATS->service coalesced") {
        _ = try await nats.request(to: "benchc", payload: envelopeC, timeout: timeout)
    },
    Workload(key: "svcB", name: "HemeraNATS->service buffered") {
        _ = try await nats.request(to: "benchb", payload: envelopeB, timeout: timeout)
    },
    Workload(key: "natsC", name: "HemeraNATS coalesced->raw") {
        _ = try await natsCoalesced.request(to: "raw", payload: rawRequest, timeout: timeout)
    },
    Workload(key: "typedC", name: "act typed, svc coalesced") { _ = try await client.act(typedC) },
    Workload(key: "typedCC", name: "act typed, both coalesced") { _ = try await clientCoalesced.act(typedC) },
]

// Off the main actor: its hops would be counted as the library's.
try await Task.detached {
    for _ in 0..<2 {
        let total = Int(environment["PROBE_TOTAL"] ?? "20000") ?? 20000
        if want("Praw") {
            rawPipeline.run(subject: "raw", payload: rawRequest, count: 2000, window: window)
            let before = Counters(server: serverPID)
            let start = DispatchTime.now().uptimeNanoseconds
            rawPipeline.run(subject: "raw", payload: rawRequest, count: total, window: window)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let counters = Counters(server: serverPID).perRequest(since: before, count: total)
            print(pad("raw cnats pipelined") + String(format: " W=%4d %8.0f req/s | ", window, Double(total) / seconds) + counters)
        }
        for workload in pipelinedWorkloads where want(workload.key) {
            try await withTaskExecutorPreference(workload.executor) {
                try await throughput(workload.name, server: serverPID, total: total, window: window, workload.call)
            }
        }
    }
    for _ in 0..<2 {
        for workload in sequentialWorkloads where want(workload.key) {
            try await withTaskExecutorPreference(workload.executor) {
                try await measure(workload.name, server: serverPID, count: count, workload.call)
            }
        }
    }
}.value
withExtendedLifetime(responder) {}
server.stop()
