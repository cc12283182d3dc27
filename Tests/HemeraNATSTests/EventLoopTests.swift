import Foundation
import HemeraTesting
import Testing

@testable import HemeraNATS

/// ``NATSOptions/WriteMode/coalesced(bufferSize:)``: the socket driven by the connection's own loop
/// thread (cnats' event-loop mode), end to end against a real nats-server.
@Suite("Coalesced writes (event loop)")
struct EventLoopTests {
    static func coalesced(_ options: inout NATSOptions) { options.writeMode = .coalesced() }

    /// The loop of a coalesced connection.
    static func loop(of connection: NATSConnection) throws -> NATSEventLoop {
        try #require(connection.eventLoop)
    }

    @Test func publishAndSubscribeWithoutFlush() async throws {
        try await withNATSServer { server in
            let receiver = try await connect(server, Self.coalesced)
            let subscription = try receiver.subscribe(to: "ev.pub")
            try await receiver.flush(timeout: .seconds(2))
            let sender = try await connect(server, Self.coalesced)
            // One lone publish, no flush: it must leave at once (there is no flusher thread).
            try sender.publish(to: "ev.pub", payload: [0])
            let first = try await collect(subscription, count: 1)
            #expect(first.map(\.payload) == [[0]])
            for index in 1..<500 {
                try sender.publish(to: "ev.pub", payload: Array("m\(index)".utf8))
            }
            let rest = try await collect(subscription, count: 499)
            #expect(rest.map { String(decoding: $0.payload, as: UTF8.self) } == (1..<500).map { "m\($0)" })
            await sender.close()
            await receiver.close()
        }
    }

    @Test func requestReplyBothSidesAndMixed() async throws {
        try await withNATSServer { server in
            let service = try await connect(server, Self.coalesced)
            let responder = try startEchoResponder(service, subject: "ev.echo")
            try await service.flush(timeout: .seconds(2))
            let coalescedClient = try await connect(server, Self.coalesced)
            let asapClient = try await connect(server)
            for index in 0..<50 {
                let a = try await coalescedClient.request(to: "ev.echo", payload: [UInt8(index)], timeout: .seconds(5))
                #expect(a.payload == Array("re:".utf8) + [UInt8(index)])
                let b = try await asapClient.request(to: "ev.echo", payload: [UInt8(index)], timeout: .seconds(5))
                #expect(b.payload == Array("re:".utf8) + [UInt8(index)])
            }
            // A send-asap service answering a coalesced client.
            let asapResponder = try startEchoResponder(asapClient, subject: "ev.asap", prefix: "asap:")
            try await asapClient.flush(timeout: .seconds(2))
            let reply = try await coalescedClient.request(to: "ev.asap", payload: [7], timeout: .seconds(5))
            #expect(reply.payload == Array("asap:".utf8) + [7])
            withExtendedLifetime((responder, asapResponder)) {}
            await coalescedClient.close()
            await asapClient.close()
            await service.close()
        }
    }

    @Test func manyRequestsInFlightAreAllAnswered() async throws {
        try await withNATSServer { server in
            let service = try await connect(server) { $0.writeMode = .coalesced(bufferSize: 4096) }
            let responder = try startEchoResponder(service, subject: "ev.many")
            try await service.flush(timeout: .seconds(2))
            let client = try await connect(server, Self.coalesced)
            let total = 5_000
            let window = 256
            try await withThrowingTaskGroup(of: Bool.self) { group in
                var started = 0
                var answered = 0
                func start(_ index: Int) {
                    group.addTask {
                        let payload = Array("\(index)".utf8)
                        let reply = try await client.request(to: "ev.many", payload: payload, timeout: .seconds(20))
                        return reply.payload == Array("re:".utf8) + payload
                    }
                }
                while started < min(window, total) {
                    start(started)
                    started += 1
                }
                while let ok = try await group.next() {
                    #expect(ok)
                    answered += 1
                    if started < total {
                        start(started)
                        started += 1
                    }
                }
                #expect(answered == total)
            }
            #expect(client.pendingRequestCount == 0)
            withExtendedLifetime(responder) {}
            await client.close()
            await service.close()
        }
    }

    @Test func aReplyHeldForQueuedMessagesLeavesWhileTheNextHandlerBlocks() async throws {
        try await withNATSServer { server in
            let service = try await connect(server, Self.coalesced)
            let blockSeconds = 3.0 * testTimeScale
            // Replies to "fast" at once; blocks on "slow" (after replying). A reply published while
            // more messages are queued is held for the delivery thread; the loop must still write it
            // when the next handler blocks.
            let responder = try service.subscribe(to: "ev.held") { message in
                guard let reply = message.replyTo else { return }
                do {
                    try service.publish(to: reply, payload: message.payload)
                } catch {
                    Issue.record("responder publish failed: \(error)")
                }
                if message.payload == Array("slow".utf8) { Thread.sleep(forTimeInterval: blockSeconds) }
            }
            try await service.flush(timeout: .seconds(2))
            // A buffered client: both requests leave in one write, so they reach the service together.
            let client = try await connect(server) { $0.writeMode = .buffered() }
            let inbox = client.newInbox()
            let replies = try client.subscribe(to: inbox)
            try await client.flush(timeout: .seconds(2))
            let clock = ContinuousClock()
            let start = clock.now
            try client.publish(to: "ev.held", payload: Array("fast".utf8), replyTo: inbox)
            try client.publish(to: "ev.held", payload: Array("slow".utf8), replyTo: inbox)
            let first = try await collect(replies, count: 1, timeout: .seconds(10))
            #expect(first.map(\.payload) == [Array("fast".utf8)])
            #expect(
                clock.now - start < .seconds(blockSeconds * 0.8),
                "the held reply did not wait for the blocked handler"
            )
            withExtendedLifetime(responder) {}
            await client.close()
            await service.close()
        }
    }

    @Test func headersTravelBothWays() async throws {
        try await withNATSServer { server in
            let service = try await connect(server, Self.coalesced)
            let responder = try startEchoResponder(service, subject: "ev.headers")
            try await service.flush(timeout: .seconds(2))
            let client = try await connect(server, Self.coalesced)
            var headers = NATSHeaders()
            headers["Hemera-Timeout"] = "2000"
            headers["X-Trace"] = "abc"
            let reply = try await client.request(to: "ev.headers", payload: [1], headers: headers, timeout: .seconds(5))
            #expect(reply.payload == Array("re:".utf8) + [1])
            #expect(reply.headers?["Hemera-Timeout"] == "2000")
            #expect(reply.headers?["X-Trace"] == "abc")
            withExtendedLifetime(responder) {}
            await client.close()
            await service.close()
        }
    }

    @Test func reconnectAfterServerRestart() async throws {
        // The buffered publish is written by the loop thread after the reconnect.
        try await checkReconnectAfterServerRestart(subjectPrefix: "ev.", configure: Self.coalesced) { connection in
            let loop = try Self.loop(of: connection)
            #expect(!loop.isFinished, "the same loop thread drives the new socket")
        } afterClose: { connection in
            let loop = try Self.loop(of: connection)
            #expect(try await eventually { loop.isFinished }, "the loop thread ended with the close")
        }
    }

    /// What descriptor `fd` of this process refers to (`socket:[inode]`), nil when it is closed.
    static func target(of fd: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
    }

    /// A lone request on a coalesced connection leaves from the thread that makes it: the loop thread,
    /// asleep with nothing to read, is not woken to write it (that hop cost ~9 µs per request).
    @Test func aLoneRequestIsWrittenByItsCallerWithoutWakingTheLoop() async throws {
        try await withNATSServer { server in
            let service = try await connect(server)
            let responder = try startEchoResponder(service, subject: "ev.lone")
            try await service.flush(timeout: .seconds(2))
            let client = try await connect(server, Self.coalesced)
            let loop = try Self.loop(of: client)
            _ = try await client.request(to: "ev.lone", payload: [0], timeout: .seconds(5))
            let before = loop.wakesForTesting
            for index in 0..<50 {
                let reply = try await client.request(to: "ev.lone", payload: [UInt8(index)], timeout: .seconds(5))
                #expect(reply.payload == Array("re:".utf8) + [UInt8(index)])
            }
            // Each request used to wake the loop (50 wake-ups); a few may still come from elsewhere
            // (a ping), none from the requests.
            #expect(loop.wakesForTesting - before < 10)
            withExtendedLifetime(responder) {}
            await client.close()
            await service.close()
        }
    }

    @Test func closeEndsTheLoopThreadAndClosesItsDescriptors() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server, Self.coalesced)
            let loop = try Self.loop(of: connection)
            let responder = try startEchoResponder(connection, subject: "ev.close")
            _ = try await connection.request(to: "ev.close", payload: [1], timeout: .seconds(5))
            #expect(!loop.isFinished)
            let descriptors = loop.descriptorsForTesting
            let targets = descriptors.map(Self.target(of:))
            #expect(targets.allSatisfy { $0?.hasPrefix("socket:") == true }, "socketpair and connection socket open")
            await connection.close()
            #expect(connection.isClosed)
            #expect(try await eventually { loop.isFinished }, "the loop thread ended with the close")
            // Closed: each number is free or (tests run in parallel) reused for another object.
            for (fd, before) in zip(descriptors, targets) {
                #expect(Self.target(of: fd) != before, "descriptor \(fd) (\(before ?? "?")) was closed")
            }
            #expect(throws: NATSError.self) { try connection.publish(to: "ev.close", payload: [1]) }
            await connection.close()  // a second close returns (the loop is gone: it runs here)
            withExtendedLifetime(responder) {}
        }
    }

    @Test func closeUnderLoadEndsTheLoopThread() async throws {
        try await withNATSServer { server in
            let client = try await connect(server, Self.coalesced)
            for round in 0..<5 {
                let service = try await connect(server, Self.coalesced)
                let loop = try Self.loop(of: service)
                let responder = try startEchoResponder(service, subject: "ev.load", closesUnderLoad: true)
                try await service.flush(timeout: .seconds(2))
                // 256 requests in flight against the service while it closes (delivery threads are
                // writing held replies as cnats closes the connection on the loop thread).
                let flood = Task {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for index in 0..<2_000 {
                            if index >= 256 { try await group.next() }
                            group.addTask {
                                _ = try? await client.request(to: "ev.load", payload: [1], timeout: .milliseconds(500))
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                try await Task.sleep(for: .milliseconds(20 + round * 10))
                try await within(.seconds(10), "closing under load") { await service.close() }
                #expect(try await eventually { loop.isFinished }, "round \(round): the loop thread ended")
                try await flood.value
                withExtendedLifetime(responder) {}
            }
            // The client's own connection is unharmed.
            let probe = try await connect(server)
            let responder = try startEchoResponder(probe, subject: "ev.after")
            try await probe.flush(timeout: .seconds(2))
            let reply = try await client.request(to: "ev.after", payload: [2], timeout: .seconds(5))
            #expect(reply.payload == Array("re:".utf8) + [2])
            withExtendedLifetime(responder) {}
            await probe.close()
            await client.close()
        }
    }

    @Test func drainEndsTheLoopThread() async throws {
        try await withNATSServer { server in
            let receiver = try await connect(server)
            let subscription = try receiver.subscribe(to: "ev.drained")
            try await receiver.flush(timeout: .seconds(2))
            let sender = try await connect(server, Self.coalesced)
            let loop = try Self.loop(of: sender)
            let received = Box(0)
            let local = try sender.subscribe(to: "ev.drained") { _ in
                Thread.sleep(forTimeInterval: 0.001)
                received.with { $0 += 1 }
            }
            for _ in 0..<100 { try sender.publish(to: "ev.drained", payload: [1]) }
            try await sender.drain(timeout: .seconds(10))
            #expect(sender.isClosed)
            #expect(received.current == 100, "the draining subscription handled every queued message")
            let messages = try await collect(subscription, count: 100)
            #expect(messages.count == 100)
            #expect(try await eventually { loop.isFinished }, "the loop thread ended after the drain closed")
            withExtendedLifetime(local) {}
            await receiver.close()
        }
    }

    @Test func droppingTheConnectionEndsTheLoopThread() async throws {
        try await withNATSServer { server in
            var connection: NATSConnection? = try await connect(server, Self.coalesced)
            let loop = try Self.loop(of: connection!)
            let events = connection!.events
            try connection!.publish(to: "ev.drop", payload: [1])
            connection = nil
            #expect(try await eventually { loop.isFinished }, "the loop thread ended when the connection was dropped")
            var closed = false
            for await event in events where event == .closed { closed = true }
            #expect(closed)
        }
    }

    @Test func failedConnectEndsTheLoopThread() async throws {
        let server = NATSTestServer()
        defer { server.stop() }
        try await server.start()
        server.stop()  // nobody listens on this port now
        var options = NATSOptions(url: server.url)
        options.writeMode = .coalesced()
        options.allowReconnect = false
        await #expect(throws: NATSError.self) { _ = try await NATSConnection.connect(options) }
    }

    @Test func tlsConnection() async throws {
        try await withNATSTestCertificates { certificates in
            var configuration = NATSServerConfiguration()
            configuration.tls = certificates.serverTLS()
            try await withNATSServer(configuration) { server in
                let tls = NATSOptions.TLS(
                    caFile: certificates.caFile,
                    clientCertificateFile: certificates.clientCertificateFile,
                    clientKeyFile: certificates.clientKeyFile,
                    expectedHostname: "localhost"
                )
                let service = try await connect(server) {
                    Self.coalesced(&$0)
                    $0.tls = tls
                }
                let responder = try startEchoResponder(service, subject: "ev.tls")
                try await service.flush(timeout: .seconds(2))
                let client = try await connect(server) {
                    Self.coalesced(&$0)
                    $0.tls = tls
                }
                for index in 0..<20 {
                    let reply = try await client.request(to: "ev.tls", payload: [UInt8(index)], timeout: .seconds(5))
                    #expect(reply.payload == Array("re:".utf8) + [UInt8(index)])
                }
                let replies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            try await client.request(
                                to: "ev.tls",
                                payload: Array("\(index)".utf8),
                                timeout: .seconds(10)
                            ).payload
                        }
                    }
                    var count = 0
                    for try await _ in group { count += 1 }
                    return count
                }
                #expect(replies == 200)
                let loop = try Self.loop(of: client)
                withExtendedLifetime(responder) {}
                await client.close()
                await service.close()
                #expect(try await eventually { loop.isFinished })
            }
        }
    }
}
