import Foundation
import HemeraNATS
import HemeraTesting
import Logging
import Testing

@testable import Hemera

/// Issue 14, item 4: connecting with full options, waiting for a server, malformed URLs.
@Suite struct ConnectTests {
    @Test(arguments: [
        "nats://127.0.0.1:abc", "nats//127.0.0.1:4222", "http://127.0.0.1:4222", "nats://:4222",
        "nats://127.0.0.1:99999", "nats://127.0.0.1:4222/path", "nats://127.0.0.1 :4222", "",
    ])
    func aMalformedURLGetsItsOwnError(url: String) async throws {
        let start = ContinuousClock.now
        do {
            let hemera = try await Hemera.connect(url: url)
            await hemera.close()
            Issue.record("connected to \(url)")
        } catch let error as NATSError {
            #expect(error.code == .invalidURL, "\(error)")
            #expect(error.message.hasPrefix("invalid NATS server URL"), "\(error)")
            #expect("\(error.code)" == "Invalid URL")
        }
        #expect(ContinuousClock.now - start < .seconds(1), "refused before any wait")
    }

    @Test func theInvalidURLErrorHidesThePassword() async throws {
        await #expect {
            _ = try await Hemera.connect(url: "nats://ada:s3cret@127.0.0.1:port")
        } throws: { error in
            let text = "\(error)"
            return (error as? NATSError)?.code == .invalidURL && !text.contains("s3cret") && text.contains("ada:***@")
        }
    }

    @Test func wellFormedURLsPass() {
        for url in [
            "nats://127.0.0.1:4222", "127.0.0.1:4222", "tls://nats.example.com:4443", "nats://u:p@h:1",
            "nats://token@h", "nats://[::1]:4222", "nats://h/", "localhost",
        ] {
            #expect(NATSServerURL.problem(with: url) == nil, "\(url)")
        }
    }

    /// Several servers (the first one down), user and password, a name and a reconnect policy.
    @Test func connectsWithFullOptions() async throws {
        var configuration = NATSServerConfiguration()
        configuration.user = "inventory"
        configuration.password = "s3cret"
        try await withNATSServer(configuration) { server in
            let down = NATSTestServer()
            try await down.start()
            let downURL = down.url
            down.stop()
            var nats = NATSOptions(servers: [downURL, server.url])
            nats.noRandomize = true
            nats.name = "inventory"
            nats.authentication = .userPassword(user: "inventory", password: "s3cret")
            nats.maxReconnectAttempts = nil
            nats.reconnectWait = .milliseconds(200)
            let service = try await Hemera.connect(nats, options: HemeraOptions(app: "inventory"))
            try service.add("topic:inventory,cmd:count") { _, _ in 7 }
            try await service.ready()
            let client = try await Hemera.connect(nats, options: HemeraOptions(app: "client"))
            #expect(try await client.act("topic:inventory,cmd:count") == 7)
            await client.close()
            await service.close()

            // Wrong credentials fail at once, not after a wait.
            nats.authentication = .userPassword(user: "inventory", password: "wrong")
            let start = ContinuousClock.now
            await #expect(throws: NATSError.self) { _ = try await Hemera.connect(nats) }
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    /// A service started before its nats-server waits for it, says so, then works.
    @Test func aServiceStartedBeforeItsServerWaitsForIt() async throws {
        let server = NATSTestServer()
        try await server.start()
        let url = server.url
        server.stop()
        defer { server.stop() }

        await #expect {
            _ = try await Hemera.connect(url: url, firstConnect: .failImmediately)
        } throws: { ($0 as? NATSError)?.code == .noServer }

        let (logger, logs) = CapturingLogHandler.logger()
        let connecting = Task {
            try await Hemera.connect(url: url, options: HemeraOptions(app: "early", logger: logger))
        }
        #expect(
            await eventually(timeout: .seconds(10)) {
                logs.all.contains { $0.level == .warning && $0.message.contains("waiting for one") }
            }
        )
        try await Task.sleep(for: .milliseconds(300))  // a retry or two while the server is down
        try await server.start()
        #expect(server.url == url)
        let service = try await connecting.value
        try service.add("topic:early,cmd:ping") { _, _ in true }
        try await service.ready()
        let client = try await Hemera.connect(url: url, firstConnect: .failImmediately)
        #expect(try await client.act("topic:early,cmd:ping") == true)
        await client.close()
        await service.close()

        // A bounded wait gives up with the connect error. On a port nothing can take meanwhile:
        // the stopped server's port may go to another test's server (a random port), and then
        // the connect succeeds.
        server.stop()
        let closed = try ClosedPort()
        let start = ContinuousClock.now
        await #expect {
            _ = try await Hemera.connect(url: closed.url, firstConnect: .waitForServer(timeout: .milliseconds(600)))
        } throws: { ($0 as? NATSError)?.code == .noServer }
        #expect(ContinuousClock.now - start >= .milliseconds(250))
    }

    /// Cancelling the task (SIGTERM under a ServiceGroup) ends the wait.
    @Test func cancellingEndsTheWait() async throws {
        // A port where nothing listens and nothing can start meanwhile (a stopped server's port
        // went to another test's server once, and the connect succeeded).
        let closed = try ClosedPort()
        let url = closed.url
        let connecting = Task { try await Hemera.connect(url: url) }
        try await Task.sleep(for: .milliseconds(300))
        connecting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await connecting.value }
        withExtendedLifetime(closed) {}
    }
}
