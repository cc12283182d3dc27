import Foundation
import Hemera
import HemeraNATS
import HemeraServiceLifecycle
import HemeraTesting
import ServiceLifecycle
import Testing

/// The directory of the built executables (beside the test bundle), else `.build/debug`.
let binDirectory: String = {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(url.path)
            url = url.deletingLastPathComponent()
        }
    }
    candidates.append(
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug").path
    )
    return candidates.first { FileManager.default.isExecutableFile(atPath: "\($0)/HemeraLifecycleExample") }
        ?? candidates.last!
}()

/// One `HemeraLifecycleExample` process; its output goes to a file polled by the test.
final class ServiceProcess: @unchecked Sendable {
    // @unchecked: `process` and `output` are set once in init and only read afterwards; Process
    // itself is thread-safe for the calls made here (terminate, waitUntilExit, terminationStatus).
    let process = Process()
    let output: String

    init(url: String, delay: Int, app: String, directory: String) throws {
        output = "\(directory)/\(app).out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.executableURL = URL(fileURLWithPath: "\(binDirectory)/HemeraLifecycleExample")
        process.arguments = [url, String(delay), app]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

    func waitFor(_ line: String, timeout: Duration = .seconds(20)) async throws {
        try await waitUntil(timeout: timeout) { self.text.contains(line) }
        guard text.contains(line) else { throw ProcessError(description: "no '\(line)' from \(output): \(text)") }
    }

    func sigterm() { kill(process.processIdentifier, SIGTERM) }

    /// Kills the process if it still runs; does not wait (a blocking wait would hold one of the
    /// few cooperative threads other tests need).
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Polls until the process exited, without blocking a thread.
    func waitForExit(timeout: Duration = .seconds(20)) async throws {
        try await waitUntil(timeout: timeout) { !self.process.isRunning }
    }
}

extension Reliability {
    @Suite("Graceful shutdown with swift-service-lifecycle", .timeLimit(.minutes(2)))
    struct LifecycleTests {
        @Test("SIGTERM one of two instances under load: zero requests lost")
        func sigtermUnderLoad() async throws {
            try await withNATSServer { server in
                let directory = NSTemporaryDirectory() + "hemera-sigterm-\(UUID().uuidString)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let first = try ServiceProcess(url: server.url, delay: 30, app: "first", directory: directory)
                defer { first.stop() }
                let second = try ServiceProcess(url: server.url, delay: 30, app: "second", directory: directory)
                defer { second.stop() }
                try await first.waitFor("serving first")
                try await second.waitFor("serving second")

                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli", retry: nil)
                )
                let results = Counter()
                let clock = ContinuousClock()
                let start = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            var n = 0
                            while clock.now - start < .seconds(3) {
                                n += 1
                                let (result, _) = await outcome {
                                    try await client.act(
                                        [
                                            "topic": "lifecycle", "cmd": "work",
                                            "n": .integer(Int64(worker * 100_000 + n)),
                                        ],
                                        timeout: .seconds(5)
                                    )
                                }
                                switch result {
                                case .success: results.add("ok")
                                case .failure(let name): results.add(name.rawValue)
                                }
                            }
                        }
                    }
                    group.addTask {
                        try await Task.sleep(for: .seconds(1))
                        first.sigterm()
                    }
                    try await group.waitForAll()
                }
                try await first.waitFor("closed first", timeout: .seconds(10))
                try await first.waitForExit()
                #expect(!first.process.isRunning)
                #expect(first.process.terminationStatus == 0)
                #expect(second.process.isRunning)
                let total = results.all.values.reduce(0, +)
                print("SIGTERM under load: \(results["ok"]) of \(total) acts succeeded: \(results.all)")
                #expect(total > 50)
                #expect(results["ok"] == total, "lost requests: \(results.all)")
                await client.close()
            }
        }

        @Test("HemeraService closes the instance when the ServiceGroup shuts down gracefully")
        func serviceGroupGracefulShutdown() async throws {
            try await withNATSServer { server in
                let hemera = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                let finished = Counter()
                try hemera.add(["topic": "slow", "cmd": "work"]) { _, _ in
                    try await Task.sleep(for: .milliseconds(300))
                    finished.add("done")
                    return true
                }
                try await hemera.ready()
                let group = ServiceGroup(
                    configuration: .init(
                        services: [.init(service: HemeraService(hemera))],
                        logger: quietLogger("group")
                    )
                )
                let client = try await connectHemera(
                    faultOptions([server.url], name: "cli"),
                    options: hemeraOptions("cli")
                )
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    tasks.addTask {
                        // In flight while the shutdown starts: answered all the same.
                        let value = try await client.act(["topic": "slow", "cmd": "work"], timeout: .seconds(3))
                        #expect(value == true)
                    }
                    try await Task.sleep(for: .milliseconds(100))
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                #expect(finished["done"] == 1)
                let error = await #expect(throws: HemeraError.self) {
                    try await client.act(["topic": "slow", "cmd": "work"], timeout: .milliseconds(500))
                }
                #expect(error?.name == .noResponders)
                await client.close()
            }
        }
    }
}

struct ProcessError: Error, CustomStringConvertible {
    var description: String
}
