import Foundation
import Hemera
import HemeraNATS
import HemeraServiceLifecycle
import HemeraTesting
import ServiceLifecycle
import Testing

/// A server whose user and password come from `auth.conf` beside its config, so a test can change
/// the password between restarts.
func rotatingAuthServer(password: String) throws -> NATSTestServer {
    var configuration = NATSServerConfiguration()
    configuration.extraConfiguration = "include ./auth.conf"
    let server = NATSTestServer(configuration)
    try setPassword(password, of: server)
    return server
}

func setPassword(_ password: String, of server: NATSTestServer) throws {
    try "authorization { user: alice, password: \(password) }\n"
        .write(toFile: "\(server.directory)/auth.conf", atomically: true, encoding: .utf8)
}

/// `nats://alice:PASSWORD@127.0.0.1:PORT`.
func credentialURL(_ server: NATSTestServer, password: String) -> String {
    "nats://alice:\(password)@127.0.0.1:\(server.port)"
}

/// Restarts `server` with a wrong password for `duration`, then with `password` again.
func rotatePassword(of server: NATSTestServer, back password: String, after duration: Duration) async throws {
    try setPassword("other-\(UUID().uuidString.prefix(6))", of: server)
    try await server.restart()
    try await Task.sleep(for: duration)
    try setPassword(password, of: server)
    try await server.restart()
}

/// The `hemera-demo` executable beside the test bundle.
var demoExecutable: String { "\(binDirectory)/hemera-demo" }

extension Reliability {
    @Suite("Auth rotation: a connection refused for good ends the service, no zombie", .timeLimit(.minutes(2)))
    struct AuthRotationTests {
        @Test("HemeraService fails (typed) when the server refuses the credentials on reconnect")
        func hemeraServiceFailsAfterAuthFailure() async throws {
            let server = try rotatingAuthServer(password: "s3cret")
            try await server.start()
            defer { server.stop() }
            var options = faultOptions([credentialURL(server, password: "s3cret")], name: "svc")
            options.reconnectWait = .milliseconds(200)
            let hemera = try await connectHemera(options, options: hemeraOptions("svc"))
            try hemera.add(["topic": "auth", "cmd": "ping"]) { _, _ in true }
            try await hemera.ready()
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: HemeraService(hemera))], logger: quietLogger("group"))
            )
            let clock = ContinuousClock()
            let started = clock.now
            let outcome: (any Error)? = await withTaskGroup(of: (any Error)?.self) { tasks in
                tasks.addTask {
                    do {
                        try await group.run()
                        return nil
                    } catch {
                        return error
                    }
                }
                tasks.addTask {
                    try? await rotatePassword(of: server, back: "s3cret", after: .seconds(5))
                    // Ends a group that would otherwise run forever (the zombie this test is about).
                    if (try? await Task.sleep(for: .seconds(15))) != nil { await group.triggerGracefulShutdown() }
                    return nil
                }
                for await result in tasks where result != nil {
                    tasks.cancelAll()
                    return result
                }
                return nil
            }
            // Before: `group.run()` never returned (the test hit its time limit) while the process
            // could not serve any more.
            let error = try #require(outcome, "the service group kept running with a closed connection")
            let serviceError = try #require(error as? HemeraServiceError, "not a HemeraServiceError: \(error)")
            #expect(serviceError.reason.contains("Authorization"), "\(serviceError.reason)")
            #expect(!serviceError.reason.contains("s3cret"))
            #expect(clock.now - started < .seconds(15))
        }

        @Test("`hemera-demo serve` exits non-zero (4) when its connection closes for good")
        func demoServeExitsNonZero() async throws {
            guard FileManager.default.isExecutableFile(atPath: demoExecutable) else {
                Issue.record("no hemera-demo at \(demoExecutable): build it first (swift build)")
                return
            }
            let server = try rotatingAuthServer(password: "s3cret")
            try await server.start()
            defer { server.stop() }
            let directory = NSTemporaryDirectory() + "hemera-auth-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let output = "\(directory)/serve.out"
            let errors = "\(directory)/serve.err"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: demoExecutable)
            process.arguments = ["serve", "math", "--server", credentialURL(server, password: "s3cret")]
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
            try process.run()
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
            try await waitUntil(timeout: .seconds(20)) { text(output).contains("serving math") }
            #expect(text(output).contains("serving math"))
            // The startup line names the server without its password.
            #expect(!text(output).contains("s3cret"), "\(text(output))")

            try await rotatePassword(of: server, back: "s3cret", after: .seconds(5))
            try await waitUntil(timeout: .seconds(15)) { !process.isRunning }
            // Before: still running, never serving again.
            #expect(!process.isRunning, "hemera-demo serve still runs with a closed connection")
            if !process.isRunning {
                #expect(process.terminationStatus == 4)
            }
            #expect(text(errors).contains("connection closed for good"), "\(text(errors))")
            #expect(!text(errors).contains("s3cret"), "\(text(errors))")
        }
    }
}
