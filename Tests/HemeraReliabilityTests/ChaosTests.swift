import Foundation
import Hemera
import HemeraLocks
import HemeraNATS
import HemeraTesting
import Testing

/// Resident memory of another process, in KiB (`VmRSS` in /proc/PID/status); -1 when gone.
func residentKiB(of pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return -1 }
    return Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? -1
}

/// Samples a process's RSS every 50 ms until stopped; keeps the peak.
final class RSSSampler: Sendable {
    let pid: Int32
    private let state = PthreadLock<(peak: Int, running: Bool)>((0, true))
    init(pid: Int32) {
        self.pid = pid
        Task.detached { [self] in
            while self.state.withLock({ $0.running }) {
                let now = residentKiB(of: pid)
                self.state.withLock { $0.peak = max($0.peak, now) }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }
    var peakKiB: Int { state.withLock { max($0.peak, residentKiB(of: pid)) } }
    func stop() { state.withLock { $0.running = false } }
}

/// Outcomes of acts over time: success ratio and the time from a fault to the first success
/// after the last failure.
final class Timeline: Sendable {
    private let events = PthreadLock<[(ContinuousClock.Instant, Bool)]>([])
    func record(_ ok: Bool) { events.withLock { $0.append((.now, ok)) } }
    var ratio: Double {
        let all = events.withLock { $0 }
        return Double(all.filter(\.1).count) / Double(max(all.count, 1))
    }
    var counts: (ok: Int, total: Int) { events.withLock { ($0.filter(\.1).count, $0.count) } }
    func recovery(after fault: ContinuousClock.Instant) -> Duration? {
        let all = events.withLock { $0 }.filter { $0.0 >= fault }
        guard let lastFailure = all.last(where: { !$0.1 }) else { return .zero }
        guard let firstSuccess = all.first(where: { $0.1 && $0.0 > lastFailure.0 }) else { return nil }
        return firstSuccess.0 - fault
    }
}

func mib(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }
func seconds(_ duration: Duration?) -> String {
    guard let duration else { return "never" }
    return String(
        format: "%.2f s",
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    )
}

/// `make chaos`: restart, cluster-kill and overload scenarios against a service process
/// (`HemeraLifecycleExample`, built like the tests: `-c release` in `make chaos`), printing the
/// success ratio, the time to recover, and the service's peak and final RSS. Skipped unless
/// HEMERA_CHAOS is set.
extension Reliability {
    @Suite("Chaos", .enabled(if: ProcessInfo.processInfo.environment["HEMERA_CHAOS"] != nil), .timeLimit(.minutes(5)))
    struct ChaosTests {
        func withServiceProcess<T>(
            url: String,
            delay: Int,
            _ body: (ServiceProcess, RSSSampler) async throws -> T
        ) async throws -> T {
            let directory = NSTemporaryDirectory() + "hemera-chaos-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let process = try ServiceProcess(url: url, delay: delay, app: "chaos", directory: directory)
            defer { process.stop() }
            try await process.waitFor("serving chaos")
            let sampler = RSSSampler(pid: process.process.processIdentifier)
            defer { sampler.stop() }
            return try await body(process, sampler)
        }

        func report(
            _ name: String,
            _ timeline: Timeline,
            recovery: Duration?,
            peak: Int,
            final: Int,
            extra: String = ""
        ) {
            let (ok, total) = timeline.counts
            print(
                "CHAOS \(name): success \(ok)/\(total) = \(String(format: "%.4f", timeline.ratio)); "
                    + "time to recover \(seconds(recovery)); service RSS peak \(mib(peak)), final \(mib(final))"
                    + (extra.isEmpty ? "" : "; \(extra)")
            )
        }

        /// Steady acts from `workers` tasks until `duration` passed.
        func steadyActs(_ client: Hemera, workers: Int, duration: Duration, idempotent: Bool, timeline: Timeline) async
        {
            let clock = ContinuousClock()
            let start = clock.now
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        var n = 0
                        while clock.now - start < duration {
                            n += 1
                            var pattern: Pattern = [
                                "topic": "lifecycle", "cmd": "work", "n": .integer(Int64(worker * 1_000_000 + n)),
                            ]
                            if idempotent { pattern.options["idempotent"] = true }
                            let ok = (try? await client.act(pattern, timeout: .seconds(1))) != nil
                            timeline.record(ok)
                            try? await Task.sleep(for: .milliseconds(2))
                        }
                    }
                }
            }
        }

        @Test func restart() async throws {
            try await withNATSServer { server in
                try await withServiceProcess(url: server.url, delay: 0) { process, sampler in
                    let client = try await connectHemera(
                        faultOptions([server.url], name: "cli"),
                        options: hemeraOptions("cli")
                    )
                    let timeline = Timeline()
                    let fault = PthreadLock<ContinuousClock.Instant?>(nil)
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            await steadyActs(
                                client,
                                workers: 4,
                                duration: .seconds(8),
                                idempotent: true,
                                timeline: timeline
                            )
                        }
                        group.addTask {
                            try? await Task.sleep(for: .seconds(2))
                            fault.withLock { $0 = .now }
                            server.stop()
                            try? await Task.sleep(for: .seconds(1))
                            try? await server.start()
                        }
                    }
                    try await Task.sleep(for: .seconds(2))
                    let recovery = fault.withLock { $0 }.flatMap { timeline.recovery(after: $0) }
                    report(
                        "restart (1 s outage)",
                        timeline,
                        recovery: recovery,
                        peak: sampler.peakKiB,
                        final: residentKiB(of: process.process.processIdentifier)
                    )
                    #expect(recovery != nil)
                    await client.close()
                }
            }
        }

        @Test func clusterKill() async throws {
            try await withNATSCluster(size: 3) { cluster in
                let urls = cluster.urls
                try await withServiceProcess(url: urls[0], delay: 0) { process, sampler in
                    let client = try await connectHemera(
                        faultOptions([urls[2], urls[1]], name: "cli"),
                        options: hemeraOptions(
                            "cli",
                            retry: RetryPolicy(maxAttempts: 6, initialBackoff: .milliseconds(20))
                        )
                    )
                    try await waitUntil {
                        (try? await client.act(["topic": "lifecycle", "cmd": "work", "n": 0])) != nil
                    }
                    let timeline = Timeline()
                    let fault = PthreadLock<ContinuousClock.Instant?>(nil)
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            await steadyActs(
                                client,
                                workers: 4,
                                duration: .seconds(8),
                                idempotent: true,
                                timeline: timeline
                            )
                        }
                        group.addTask {
                            try? await Task.sleep(for: .seconds(2))
                            fault.withLock { $0 = .now }
                            cluster.servers[0].kill()
                        }
                    }
                    let recovery = fault.withLock { $0 }.flatMap { timeline.recovery(after: $0) }
                    report(
                        "cluster kill (service's node)",
                        timeline,
                        recovery: recovery,
                        peak: sampler.peakKiB,
                        final: residentKiB(of: process.process.processIdentifier)
                    )
                    #expect(timeline.ratio >= 0.99)
                    await client.close()
                }
            }
        }

        @Test func overload() async throws {
            try await withNATSServer { server in
                try await withServiceProcess(url: server.url, delay: 2000) { process, sampler in
                    let pid = process.process.processIdentifier
                    let idle = residentKiB(of: pid)
                    let client = try await NATSConnection.connect(faultOptions([server.url], name: "flood"))
                    let replies = Counter()
                    let inbox = try client.subscribe(to: "chaos.replies.>") { message in
                        let text = String(decoding: message.payload, as: UTF8.self)
                        replies.add(
                            text.contains("\"OverloadedError\"")
                                ? "overloaded" : text.contains("\"error\":null") ? "ok" : "other"
                        )
                    }
                    let count = 50_000
                    let clock = ContinuousClock()
                    let start = clock.now
                    for n in 0..<count {
                        try client.publish(
                            to: "lifecycle",
                            payload: Array(
                                #"{"pattern":{"topic":"lifecycle","cmd":"work","n":\#(n)},"meta":{},"delegate":{},"trace":{},"request":{"id":"r\#(n)","type":"request"}}"#
                                    .utf8
                            ),
                            replyTo: "chaos.replies.\(n)"
                        )
                    }
                    try await client.flush(timeout: .seconds(10))
                    // Recovery: how long after the flood was sent a normal call succeeds again.
                    let flooded = clock.now
                    let caller = try await connectHemera(
                        faultOptions([server.url], name: "probe"),
                        options: hemeraOptions("probe", retry: nil)
                    )
                    var recovered: Duration?
                    while clock.now - flooded < .seconds(30) {
                        if (try? await caller.act(["topic": "lifecycle", "cmd": "work", "n": -1], timeout: .seconds(5)))
                            != nil
                        {
                            recovered = clock.now - flooded
                            break
                        }
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    await caller.close()
                    try await waitUntil(timeout: .seconds(60)) {
                        replies["ok"] + replies["overloaded"] + replies["other"] >= count
                    }
                    let answeredIn = clock.now - start
                    let peak = sampler.peakKiB
                    try await Task.sleep(for: .seconds(3))
                    let timeline = Timeline()
                    for _ in 0..<replies["ok"] { timeline.record(true) }
                    for _ in 0..<(count - replies["ok"]) { timeline.record(false) }
                    report(
                        "overload (50,000 requests, 2 s handler)",
                        timeline,
                        recovery: recovered,
                        peak: peak,
                        final: residentKiB(of: pid),
                        extra:
                            "idle RSS \(mib(idle)); replies \(replies.all) all within \(seconds(answeredIn)) (success = ran; the rest OverloadedError at once; recovery = first normal call answered after the flood)"
                    )
                    #expect(replies["ok"] + replies["overloaded"] == count)
                    withExtendedLifetime(inbox) {}
                    await client.close()
                }
            }
        }
    }
}
