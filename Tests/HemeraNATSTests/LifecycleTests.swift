import Foundation
import HemeraNATS
import HemeraTesting
import Testing

@Suite("Drain, reconnect, cluster")
struct LifecycleTests {
    @Test func subscriptionDrainDeliversInFlightMessages() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let received = Box(0)
            let subscription = try connection.subscribe(to: "drain.me") { _ in
                Thread.sleep(forTimeInterval: 0.001)  // a slow handler: messages queue up in cnats
                received.with { $0 += 1 }
            }
            for index in 0..<200 { try connection.publish(to: "drain.me", payload: [UInt8(index % 256)]) }
            try await connection.flush(timeout: .seconds(2))
            try await subscription.drain(timeout: .seconds(10))
            #expect(received.current == 200)
            #expect(!subscription.isValid)
            try connection.publish(to: "drain.me", payload: [])
            try await connection.flush(timeout: .seconds(2))
            try await Task.sleep(for: .milliseconds(50))
            #expect(received.current == 200, "no messages after the drain")
            await connection.close()
        }
    }

    @Test func connectionDrainFlushesAndCloses() async throws {
        try await withNATSServer { server in
            let receiver = try await connect(server)
            let subscription = try receiver.subscribe(to: "drained")
            try await receiver.flush(timeout: .seconds(2))
            let sender = try await connect(server)
            let received = Box(0)
            let local = try sender.subscribe(to: "drained") { _ in
                Thread.sleep(forTimeInterval: 0.001)
                received.with { $0 += 1 }
            }
            for _ in 0..<100 { try sender.publish(to: "drained", payload: [1]) }
            try await sender.drain(timeout: .seconds(10))
            #expect(sender.isClosed)
            #expect(received.current == 100, "the draining subscription handled every queued message")
            let messages = try await collect(subscription, count: 100)
            #expect(messages.count == 100)
            withExtendedLifetime(local) {}
            await receiver.close()
        }
    }

    @Test func connectionDrainTimesOut() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            // Handlers of 1.5 s each; they and the bound below scale together on sanitizer runs.
            let handlerSeconds = 1.5 * testTimeScale
            let stuck = try connection.subscribe(to: "stuck") { _ in Thread.sleep(forTimeInterval: handlerSeconds) }
            try connection.publish(to: "stuck", payload: [])
            try connection.publish(to: "stuck", payload: [])
            try await connection.flush(timeout: .seconds(2))
            try await Task.sleep(for: .milliseconds(50))
            let clock = ContinuousClock()
            let start = clock.now
            let error = try await #require(throws: NATSError.self) {
                try await connection.drain(timeout: .milliseconds(200))
            }
            #expect(error.code == .timeout)
            #expect(
                clock.now - start < Duration.seconds(1.4).scaledForTests,
                "the drain gave up at its timeout, not after the handlers"
            )
            #expect(connection.isClosed)
            withExtendedLifetime(stuck) {}
        }
    }

    @Test func reconnectAfterServerRestart() async throws {
        try await checkReconnectAfterServerRestart(subjectPrefix: "")
    }

    @Test func retryOnFailedConnect() async throws {
        let server = NATSTestServer()
        defer { server.stop() }
        try await server.start()
        server.stop()  // the port is known now, and nobody listens on it
        var options = NATSOptions(url: server.url)
        options.retryOnFailedConnect = true
        options.reconnectWait = .milliseconds(50)
        options.maxReconnectAttempts = nil
        let connection = try await NATSConnection.connect(options)
        let events = connection.events
        #expect(connection.connectedURL == nil)
        let subscription = try connection.subscribe(to: "early")
        try await server.start()
        _ = try await waitForEvent(events) { $0 == .connected }
        #expect(connection.connectedServerID == server.serverID)
        try connection.publish(to: "early", payload: [3])
        #expect(try await collect(subscription, count: 1).first?.payload == [3])
        await connection.close()
    }

    @Test func failRequestsOnDisconnect() async throws {
        let server = NATSTestServer()
        defer { server.stop() }
        try await server.start()
        let connection = try await connect(server) {
            $0.failRequestsOnDisconnect = true
            $0.reconnectWait = .milliseconds(100)
        }
        let silent = try connection.subscribe(to: "silent") { _ in }
        try await connection.flush(timeout: .seconds(2))
        let pending = Task { try await connection.request(to: "silent", payload: [], timeout: .seconds(30)) }
        #expect(try await eventually { connection.pendingRequestCount == 1 })
        server.stop()
        let error = try await #require(throws: NATSError.self) {
            try await within(.seconds(5)) { try await pending.value }
        }
        #expect(error.code == .disconnected)
        #expect(connection.pendingRequestCount == 0)
        withExtendedLifetime(silent) {}
        await connection.close()
    }

    @Test func clusterRoutesCarryMessages() async throws {
        try await withNATSCluster(size: 3) { cluster in
            #expect(cluster.servers.allSatisfy { $0.isRunning })
            let first = try await connect(cluster.servers[0])
            let last = try await connect(cluster.servers[2])
            #expect(first.connectedServerID != last.connectedServerID)
            let subscription = try first.subscribe(to: "across")
            let responder = try startEchoResponder(first, subject: "svc.across")
            try await first.flush(timeout: .seconds(2))
            // Interest propagates over the routes asynchronously.
            var reply: NATSMessage?
            for _ in 0..<50 where reply == nil {
                reply = try? await last.request(to: "svc.across", payload: [7], timeout: .milliseconds(200))
                if reply == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(reply?.payload == Array("re:".utf8) + [7])
            try last.publish(to: "across", payload: Array("hop".utf8))
            let message = try #require(try await collect(subscription, count: 1).first)
            #expect(message.payload == Array("hop".utf8))

            // Killing the middle node leaves the other two routed.
            cluster.servers[1].kill()
            #expect(!cluster.servers[1].isRunning)
            try await cluster.waitForRoutes()
            let again = try await last.request(to: "svc.across", payload: [8], timeout: .seconds(2))
            #expect(again.payload == Array("re:".utf8) + [8])
            withExtendedLifetime(responder) {}
            await first.close()
            await last.close()
        }
    }
}

@Suite("Connection events and lifetime")
struct EventTests {
    @Test func lameDuckModeIsAnEvent() async throws {
        var configuration = NATSServerConfiguration()
        configuration.extraConfiguration = "lame_duck_grace_period: \"100ms\"\nlame_duck_duration: \"30s\""
        try await withNATSServer(configuration) { server in
            let connection = try await connect(server)
            let events = connection.events
            server.enterLameDuckMode()
            let event = try await waitForEvent(events) { $0 == .lameDuckMode }
            #expect(event == .lameDuckMode)
            await connection.close()
        }
    }

    /// A connection of a user that may not publish to `forbidden.>`, on a server of its own.
    private func withLimitedUser(_ body: (NATSConnection) async throws -> Void) async throws {
        var configuration = NATSServerConfiguration()
        configuration.extraConfiguration = """
            authorization { users = [ { user: "limited", password: "pw", permissions: { publish: { deny: ["forbidden.>"] } } } ] }
            """
        try await withNATSServer(configuration) { server in
            let connection = try await connect(server) {
                $0.authentication = .userPassword(user: "limited", password: "pw")
            }
            try await body(connection)
        }
    }

    @Test func permissionViolationIsAnEvent() async throws {
        try await withLimitedUser { connection in
            let events = connection.events
            try connection.publish(to: "forbidden.thing", payload: [1])
            let event = try await waitForEvent(events) {
                if case .error = $0 { return true } else { return false }
            }
            guard case .error(let error, _) = event else { Issue.record("not an error event"); return }
            #expect(error.code == .notPermitted)
            #expect(error.message.lowercased().contains("permissions violation"))
            await connection.close()
        }
    }

    @Test func aRefusedRequestFailsAtOnce() async throws {
        try await withLimitedUser { connection in
            let started = ContinuousClock.now
            await #expect {
                _ = try await connection.request(to: "forbidden.call", payload: [1], timeout: .seconds(10))
            } throws: { error in
                guard let error = error as? NATSError else { return false }
                return error.code == .notPermitted && error.message.contains("forbidden.call")
            }
            // Reported by the server within a round trip, long before the 10 s timeout.
            #expect(ContinuousClock.now - started < Duration.seconds(2).scaledForTests)
            #expect(connection.pendingRequestCount == 0)
            await connection.close()
        }
    }

    @Test func droppingTheLastReferenceClosesTheConnection() async throws {
        try await withNATSServer { server in
            do {
                let connection = try await connect(server)
                let responder = try startEchoResponder(connection, subject: "gone")
                _ = try await connection.request(to: "gone", payload: [], timeout: .seconds(2))
                #expect(try server.connectionCount() == 1)
                withExtendedLifetime(responder) {}
            }
            #expect(try await eventually { (try? server.connectionCount()) == 0 }, "deinit destroyed the connection")
        }
    }
}

@Suite("Event sequences")
struct EventSequenceTests {
    @Test func eventSequencesEndWithClosed() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let kept = connection.events
            do {
                let dropped = connection.events
                _ = dropped
            }
            // Only the kept sequence still receives; closing delivers .closed to it and ends it.
            await connection.close()
            var received: [NATSConnectionEvent] = []
            for await event in kept { received.append(event) }
            #expect(
                received.last == .closed,
                "a close ends with .closed (cnats reports .disconnected first): \(received)"
            )
            // A sequence made after the close ends at once with .closed.
            var late: [NATSConnectionEvent] = []
            for await event in connection.events { late.append(event) }
            #expect(late == [.closed])
        }
    }
}
