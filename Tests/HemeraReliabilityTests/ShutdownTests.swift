import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

extension Reliability {
    @Suite("Shutdown edge cases: the server is down", .timeLimit(.minutes(2)))
    struct ShutdownTests {
        @Test("close() while the server is down returns promptly")
        func closeWhileServerDown() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                try service.add(["topic": "down", "cmd": "x"]) { _, _ in true }
                try await service.ready()
                server.stop()
                try await waitUntil { service.transportConnectionURL == nil }
                let clock = ContinuousClock()
                let start = clock.now
                await service.close()
                let took = clock.now - start
                print("close with the server down: \(took)")
                // Before: 15 s (a 10 s subscription drain and a 5 s flush, neither possible without a server).
                #expect(took < .seconds(2), "close took \(took)")
            }
        }

        @Test("A handler still running after the grace period: its caller gets a typed UnavailableError at once")
        func handlerPastGracePeriod() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                let started = Counter()
                try service.add(["topic": "stuck", "cmd": "work"]) { _, _ in
                    started.add("n")
                    try? await Task.sleep(for: .seconds(6))
                    return true
                }
                try await service.ready()
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli", retry: nil)
                )
                let clock = ContinuousClock()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for n in 0..<3 {
                        group.addTask {
                            let start = clock.now
                            let (result, _) = await outcome {
                                try await client.act(
                                    ["topic": "stuck", "cmd": "work", "n": .integer(Int64(n))],
                                    timeout: .seconds(10)
                                )
                            }
                            let took = clock.now - start
                            // Before: no reply at all until the caller's own 10 s timeout.
                            #expect(result == .failure(.unavailable), "\(result)")
                            #expect(took < .seconds(3), "answered after \(took)")
                        }
                    }
                    group.addTask {
                        try await waitUntil { started["n"] == 3 }
                        await service.close(gracePeriod: .milliseconds(300))
                    }
                    try await group.waitForAll()
                }
                await client.close()
            }
        }

        @Test("SIGTERM to a ServiceGroup-run service while the server is down: exits 0 promptly")
        func sigtermWhileServerDown() async throws {
            try await withNATSServer { server in
                let directory = NSTemporaryDirectory() + "hemera-down-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let process = try ServiceProcess(url: server.url, delay: 0, app: "down", directory: directory)
                defer { process.stop() }
                try await process.waitFor("serving down")
                server.stop()
                // Let the service notice (pings every 2 min by default; the socket closes at once).
                try await Task.sleep(for: .milliseconds(500))
                let clock = ContinuousClock()
                let start = clock.now
                process.sigterm()
                try await process.waitForExit(timeout: .seconds(30))
                let took = clock.now - start
                print("SIGTERM with the server down: exited after \(took)")
                #expect(!process.process.isRunning)
                #expect(took < .seconds(3), "exit took \(took)")
                if !process.process.isRunning { #expect(process.process.terminationStatus == 0) }
            }
        }
    }
}
