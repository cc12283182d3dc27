import Foundation
import Hemera
import HemeraAppSupport
import HemeraDemoServices
import HemeraTesting

/// Runs `body` with a fresh nats-server, each of `services` on its own connection (as its own
/// process would be), and a client instance; closes everything afterwards.
func withDemo<Result>(
    _ services: [DemoService] = DemoService.allCases,
    serviceOptions: (DemoService) -> HemeraOptions = { serviceOptions($0) },
    _ body: (NATSTestServer, Hemera, [DemoService: Hemera]) async throws -> Result
) async throws -> Result {
    try await withNATSServer { server in
        var instances: [DemoService: Hemera] = [:]
        var client: Hemera?
        do {
            for service in services {
                let hemera = try await HemeraConnect.connect(url: server.url, options: serviceOptions(service))
                instances[service] = hemera
                try await DemoService.start([service], on: hemera)
            }
            let connected = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "test-client"))
            client = connected
            let result = try await body(server, connected, instances)
            await connected.close()
            for hemera in instances.values { await hemera.close() }
            return result
        } catch {
            await client?.close()
            for hemera in instances.values { await hemera.close() }
            throw error
        }
    }
}

/// The options a demo service runs with: quiet, and named in the services API.
func serviceOptions(_ service: DemoService) -> HemeraOptions {
    var options = quietOptions(app: service.rawValue)
    options.service = service.serviceOptions
    return options
}

/// Options whose logger prints errors only (closing a connection logs a disconnect warning).
func quietOptions(app: String, serverInterceptors: [any HemeraServerInterceptor] = []) -> HemeraOptions {
    HemeraOptions(app: app, logger: HemeraConnect.quietLogger(label: app), serverInterceptors: serverInterceptors)
}

/// Expects `call` to fail with a ``HemeraError`` and returns it.
func expectHemeraError<T>(_ call: () async throws -> T) async -> HemeraError? {
    do {
        _ = try await call()
        return nil
    } catch let error as HemeraError {
        return error
    } catch {
        return HemeraError(name: "UnexpectedError", message: "\(error)")
    }
}

// MARK: - Subprocesses

/// The directory holding the built executables: the test bundle's own directory (tests run after
/// the build, binaries are beside the bundle), else `.build/debug` of this package.
let binDirectory: String = {
    var candidates: [String] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // …/debug/swift-hemeraPackageTests.xctest may be a directory bundle on some platforms.
        for _ in 0..<4 {
            candidates.append(url.path)
            url = url.deletingLastPathComponent()
        }
    }
    candidates.append(
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent(".build/debug").path
    )
    return candidates.first { FileManager.default.isExecutableFile(atPath: "\($0)/hemera") } ?? candidates.last!
}()

struct ToolResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    var duration: Duration
}

/// A started subprocess of one of this package's executables. Only its own PID is ever signalled.
final class Tool: @unchecked Sendable {
    // @unchecked Sendable: `process` and the file paths are set once in init; Process is thread-safe
    // for the calls used here (terminate, processIdentifier, isRunning, terminationStatus).
    let process = Process()
    let outPath: String
    let errPath: String
    let started = ContinuousClock.now
    private let exited: AsyncStream<Void>

    init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let directory = NSTemporaryDirectory() + "hemera-demo-tests-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        outPath = directory + "/stdout"
        errPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "\(binDirectory)/\(name)")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["NATS_URL"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle.nullDevice
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        exited = stream
        process.terminationHandler = { _ in continuation.finish() }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits for the exit (killing the process after `timeout`) and returns its outcome.
    func wait(timeout: Duration = .seconds(60)) async -> ToolResult {
        let watchdog = Task { [process] in
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        for await _ in exited {}
        watchdog.cancel()
        return ToolResult(status: process.terminationStatus, stdout: stdout, stderr: stderr, duration: .now - started)
    }

    /// Waits until standard output contains `text`.
    func waitForOutput(_ text: String, timeout: Duration = .seconds(30)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdout.contains(text) { return true }
            if !process.isRunning { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// Runs one of this package's executables to completion.
func runTool(_ name: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> ToolResult {
    try await Tool(name, arguments).wait(timeout: timeout)
}

/// Parses JSON text.
func parseJSON(_ text: String) throws -> JSONValue {
    try JSONValue(parsing: Array(text.utf8))
}
