import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

/// Resident memory, open file descriptors and threads of this process, from /proc.
struct ProcessFigures: CustomStringConvertible {
    var rssKiB: Int
    var fds: Int
    var threads: Int

    static func now() -> ProcessFigures {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return Int(
                line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first { Int($0) != nil } ?? ""
            ) ?? -1
        }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        return ProcessFigures(rssKiB: field("VmRSS"), fds: fds, threads: field("Threads"))
    }

    var description: String { "RSS \(rssKiB / 1024) MiB (\(rssKiB) KiB), \(fds) fds, \(threads) threads" }
}

/// `make soak`: five minutes (HEMERA_SOAK_SECONDS) of steady acts; memory flat after warm-up, no
/// growth in file descriptors or threads. Skipped in `make test`. `HEMERA_SOAK_WRITE_MODE=coalesced`
/// (`make soak SOAK_WRITE_MODE=coalesced`) runs service and client on coalesced connections (the
/// event-loop write mode); the default is send-asap.
extension Reliability {
    @Suite("Soak", .enabled(if: ProcessInfo.processInfo.environment["HEMERA_SOAK_SECONDS"] != nil))
    struct SoakTests {
        @Test func steadyActs() async throws {
            let seconds = Int(ProcessInfo.processInfo.environment["HEMERA_SOAK_SECONDS"] ?? "") ?? 300
            let warmUp = Duration.seconds(max(10, seconds / 10))
            let coalesced = ProcessInfo.processInfo.environment["HEMERA_SOAK_WRITE_MODE"] == "coalesced"
            try await withNATSServer { server in
                var natsOptions = NATSOptions(url: server.url)
                if coalesced { natsOptions.writeMode = .coalesced() }
                print("soak write mode: \(natsOptions.writeMode)")
                let start = ProcessFigures.now()
                let service = try await connectHemera(natsOptions, options: hemeraOptions("svc"))
                try service.add(AddInts.self) { request, _ in request.a + request.b }
                try service.add(["topic": "echo", "cmd": "get"]) { pattern, _ in pattern["payload"] ?? .null }
                try await service.ready()
                let client = try await connectHemera(natsOptions, options: hemeraOptions("cli"))
                let clock = ContinuousClock()
                let began = clock.now
                let total = Duration.seconds(seconds)
                let counts = Counter()
                var warm: ProcessFigures?
                var samples: [String] = []
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var n = 0
                            while clock.now - began < total {
                                n += 1
                                if n % 2 == 0 {
                                    let sum: Int = try await client.act(AddInts(a: n, b: worker))
                                    counts.add(sum == n + worker ? "ok" : "wrong")
                                } else {
                                    let payload = JSONValue.string(String(repeating: "p", count: n % 2048))
                                    let echoed = try await client.act([
                                        "topic": "echo", "cmd": "get", "payload": payload,
                                    ])
                                    counts.add(echoed == payload ? "ok" : "wrong")
                                }
                            }
                        }
                    }
                    try await Task.sleep(for: warmUp)
                    warm = ProcessFigures.now()
                    while clock.now - began < total {
                        try await Task.sleep(for: .seconds(30))
                        samples.append("t=\(Int((clock.now - began).components.seconds))s \(ProcessFigures.now())")
                    }
                    try await group.waitForAll()
                }
                let end = ProcessFigures.now()
                print("soak start:   \(start)")
                print("soak warm-up: \(warm.map(String.init(describing:)) ?? "-") after \(warmUp)")
                for sample in samples { print("soak sample:  \(sample)") }
                print("soak end:     \(end) after \(seconds) s, \(counts["ok"]) acts ok, \(counts["wrong"]) wrong")
                #expect(counts["wrong"] == 0)
                if let warm {
                    #expect(end.rssKiB <= warm.rssKiB + max(warm.rssKiB / 10, 16 * 1024), "memory grew after warm-up")
                    #expect(end.fds <= warm.fds, "file descriptors grew")
                    #expect(end.threads <= warm.threads + 2, "threads grew")
                }
                await client.close()
                await service.close()
            }
        }
    }
}
