import ArgumentParser
import Hemera
import HemeraAppSupport
import HemeraNATS
import Synchronization

/// The pattern the bench's own responder answers: echoes `payload` back.
struct BenchEcho: HemeraPattern {
    static let topic = "hemera.bench"
    static let cmd: String? = "echo"
    typealias Reply = String

    var payload: String
}

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measures request/reply latency and throughput, like `nats bench` for RPC.",
        discussion: """
            By default starts a responder (its own connection, answering \
            {"topic":"hemera.bench","cmd":"echo"} by echoing the payload) and a requester (another \
            connection) that keeps --in-flight calls outstanding until --count calls are done. With \
            --no-responder it calls services already running: --pattern picks the call (default the \
            echo pattern, e.g. of another `hemera bench --serve`). Prints p50/p90/p99 latency and \
            throughput as a table, or with --json as one JSON object.
            """
    )

    @OptionGroup var options: ServerOptions

    @Option(name: .customLong("in-flight"), help: "Calls outstanding at once.")
    var inFlight: Int = 1

    @Option(help: "Calls to measure.")
    var count: Int = 10_000

    @Option(help: "Size of the `payload` string sent with each call, in bytes.")
    var payload: Int = 128

    @Option(help: "Calls made before measuring (default: count / 10, at most 1000).")
    var warmup: Int?

    @Option(help: "Timeout of each call, in milliseconds.")
    var timeout: Int = 2000

    @Flag(name: .customLong("no-responder"), help: "Do not start a responder; call running services.")
    var noResponder = false

    @Flag(help: "Only run the responder, until SIGTERM or SIGINT (for a requester elsewhere).")
    var serve = false

    @Option(help: "With --no-responder: the pattern to call (JSON or short form); `payload` is added.")
    var pattern: String?

    @Option(
        name: .customLong("write-mode"),
        help: "How the bench's connections write: coalesced (default, as Hemera.connect), send-asap, buffered (4 KiB)."
    )
    var writeMode: BenchWriteMode = .coalesced

    @Flag(help: "Print the result as one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if inFlight < 1 { throw ValidationError("--in-flight must be at least 1") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if payload < 0 { throw ValidationError("--payload must be >= 0") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must be >= 0") }
        if let pattern {
            if !noResponder { throw ValidationError("--pattern needs --no-responder (the own responder only echoes)") }
            _ = try parsePattern(pattern)
        }
        if serve && noResponder { throw ValidationError("--serve and --no-responder exclude each other") }
    }

    func run() async throws {
        if serve {
            let responder = try await startResponder()
            Console.err(
                "hemera bench: responder on \(NATSRedaction.redact(options.url)), topic \(BenchEcho.topic); stop with SIGINT"
            )
            _ = await TerminationSignal.wait()
            await responder.close()
            return
        }
        let responder = noResponder ? nil : try await startResponder()
        let requester: Hemera
        do {
            requester = try await options.connect(app: "hemera-bench", writeMode: writeMode.natsMode)
        } catch {
            await responder?.close()
            throw error
        }
        let result: Result<BenchResult, any Error>
        do {
            result = .success(try await measure(with: requester))
        } catch {
            result = .failure(error)
        }
        await requester.close()
        await responder?.close()
        let bench = try result.get()
        if json {
            Console.out(JSONText.render(bench.json))
        } else {
            Console.out(bench.table)
        }
        if let firstError = bench.firstError {
            Console.err("hemera bench: \(bench.errors) of \(bench.requests) calls failed; first: \(firstError)")
            throw ExitCode.failure
        }
    }

    func startResponder() async throws -> Hemera {
        let hemera = try await options.connect(app: "hemera-bench-responder", writeMode: writeMode.natsMode)
        try hemera.add(BenchEcho.self) { request, _ in request.payload }
        try await hemera.ready()
        return hemera
    }

    /// The call each worker makes.
    func makeCall(_ hemera: Hemera) throws -> (shown: JSONValue, call: @Sendable () async throws -> Void) {
        let text = String(repeating: "x", count: payload)
        let timeout = Duration.milliseconds(timeout)
        if let patternText = pattern {
            var custom = try parsePattern(patternText)
            if payload > 0 { custom.keys["payload"] = .string(text) }
            let fixed = custom
            var shown = custom.keys
            if payload > 0 { shown["payload"] = .string("<\(payload) bytes>") }
            return (.object(shown), { _ = try await hemera.act(fixed, timeout: timeout) })
        }
        let request = BenchEcho(payload: text)
        return (
            ["topic": .string(BenchEcho.topic), "cmd": "echo", "payload": .string("<\(payload) bytes>")],
            { _ = try await hemera.act(request, timeout: timeout) }
        )
    }

    func measure(with hemera: Hemera) async throws -> BenchResult {
        let (shown, call) = try makeCall(hemera)
        let topic = shown["topic"]?.stringValue ?? ""
        // One call first: fails fast (no responders, timeout) before any measuring.
        do {
            try await call()
        } catch {
            throw failureExit(for: error, topic: topic, timeout: .milliseconds(timeout))
        }
        let warmupCount = warmup ?? min(count / 10, 1000)
        if warmupCount > 0 { _ = await run(calls: warmupCount, call) }
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = await run(calls: count, call)
        let elapsed = clock.now - start
        return BenchResult(
            server: NATSRedaction.redact(options.url),
            writeMode: writeMode.rawValue,
            pattern: shown,
            requests: count,
            inFlight: inFlight,
            payloadBytes: payload,
            elapsed: elapsed,
            latencies: outcome.latencies,
            errors: outcome.errors,
            firstError: outcome.firstError
        )
    }

    /// Runs `calls` calls with `inFlight` workers; returns the latencies (seconds) of the successful ones.
    func run(calls: Int, _ call: @escaping @Sendable () async throws -> Void) async -> WorkerOutcome {
        let next = Counter()
        return await withTaskGroup(of: WorkerOutcome.self) { group in
            for _ in 0..<min(inFlight, calls) {
                group.addTask {
                    var outcome = WorkerOutcome()
                    let clock = ContinuousClock()
                    while next.take() < calls {
                        let start = clock.now
                        do {
                            try await call()
                            outcome.latencies.append((clock.now - start).seconds)
                        } catch {
                            outcome.errors += 1
                            if outcome.firstError == nil { outcome.firstError = "\(error)" }
                        }
                    }
                    return outcome
                }
            }
            var total = WorkerOutcome()
            for await outcome in group {
                total.latencies += outcome.latencies
                total.errors += outcome.errors
                if total.firstError == nil { total.firstError = outcome.firstError }
            }
            return total
        }
    }
}

/// Hands out call numbers to the workers.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)

    /// The next number, starting at 0.
    func take() -> Int { value.add(1, ordering: .relaxed).oldValue }
}

struct WorkerOutcome: Sendable {
    var latencies: [Double] = []
    var errors = 0
    var firstError: String?
}

/// One bench run's numbers.
struct BenchResult {
    var server: String
    var writeMode: String
    var pattern: JSONValue
    var requests: Int
    var inFlight: Int
    var payloadBytes: Int
    var elapsed: Duration
    var latencies: [Double]
    var errors: Int
    var firstError: String?

    var elapsedSeconds: Double { elapsed.seconds }
    var throughput: Double { elapsedSeconds > 0 ? Double(latencies.count) / elapsedSeconds : 0 }

    /// Latency percentiles in milliseconds (nearest rank).
    var sorted: [Double] { latencies.sorted() }

    func percentile(_ p: Double, of sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))] * 1000
    }

    var latencyMilliseconds: [(String, Double)] {
        let sorted = sorted
        let mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
        return [
            ("min", (sorted.first ?? 0) * 1000), ("p50", percentile(50, of: sorted)),
            ("p90", percentile(90, of: sorted)),
            ("p99", percentile(99, of: sorted)), ("max", (sorted.last ?? 0) * 1000), ("mean", mean),
        ]
    }

    var json: JSONValue {
        var latency: [String: JSONValue] = [:]
        for (name, value) in latencyMilliseconds { latency[name] = .double(round3(value)) }
        return [
            "server": .string(server), "writeMode": .string(writeMode), "pattern": pattern, "requests": .integer(Int64(requests)),
            "errors": .integer(Int64(errors)), "inFlight": .integer(Int64(inFlight)),
            "payloadBytes": .integer(Int64(payloadBytes)), "elapsedSeconds": .double(round3(elapsedSeconds)),
            "throughputPerSecond": .double(throughput.rounded()), "latencyMs": .object(latency),
        ]
    }

    var table: String {
        let latency = latencyMilliseconds
        let columns: [(String, String)] =
            [
                ("requests", "\(requests)"), ("errors", "\(errors)"), ("in flight", "\(inFlight)"),
                ("payload B", "\(payloadBytes)"), ("elapsed s", format(elapsedSeconds)),
                ("req/s", String(Int(throughput.rounded()))),
            ] + latency.map { ("\($0.0) ms", format($0.1)) }
        let widths = columns.map { max($0.0.count, $0.1.count) }
        func row(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { pad($0.0, $0.1) }.joined(separator: " | ") + " |"
        }
        return [
            "hemera bench: \(JSONText.render(pattern)) on \(server)",
            "",
            row(columns.map(\.0)),
            "|" + widths.map { String(repeating: "-", count: $0 + 1) + ":" }.joined(separator: "|") + "|",
            row(columns.map(\.1)),
        ].joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private func format(_ value: Double) -> String {
        let scaled = Int64((value * 1000).rounded())
        let fraction = String(scaled % 1000)
        return "\(scaled / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    private func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// `--write-mode`: the write mode of the bench's connections (`NATSOptions.WriteMode`).
enum BenchWriteMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    case sendAsap = "send-asap"
    case buffered
    case coalesced

    var natsMode: NATSOptions.WriteMode {
        switch self {
        case .sendAsap: .sendAsap
        case .buffered: .buffered(bufferSize: 4096)
        case .coalesced: .coalesced()
        }
    }
}
