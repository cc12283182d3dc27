import Foundation
import HemeraNATS
import HemeraTesting
import Testing

@Suite("Publish and subscribe")
struct PubSubTests {
    @Test func publishSubscribeInOrder() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let subscription = try connection.subscribe(to: "orders.*")
            for index in 0..<10 {
                try connection.publish(to: "orders.\(index)", payload: Array("order \(index)".utf8))
            }
            try await connection.flush(timeout: .seconds(2))
            let messages = try await collect(subscription, count: 10)
            #expect(messages.map(\.subject) == (0..<10).map { "orders.\($0)" })
            #expect(messages.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<10).map { "order \($0)" })
            #expect(messages.allSatisfy { $0.replyTo == nil && $0.headers == nil })
            await connection.close()
        }
    }

    @Test func publishFromRawBuffer() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let subscription = try connection.subscribe(to: "raw")
            let bytes: [UInt8] = [0, 1, 2, 255]
            try bytes.withUnsafeBytes { try connection.publish(to: "raw", payload: $0, replyTo: "answer.here") }
            let message = try #require(try await collect(subscription, count: 1).first)
            #expect(message.payload == bytes)
            #expect(message.replyTo == "answer.here")
            await connection.close()
        }
    }

    @Test func queueGroupSplitsTheLoad() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let counts = Box([0, 0])
            let first = try connection.subscribe(to: "work", queue: "workers") { _ in counts.with { $0[0] += 1 } }
            let second = try connection.subscribe(to: "work", queue: "workers") { _ in counts.with { $0[1] += 1 } }
            let total = 400
            for index in 0..<total { try connection.publish(to: "work", payload: Array("\(index)".utf8)) }
            try await connection.flush(timeout: .seconds(2))
            #expect(try await eventually { counts.current.reduce(0, +) == total })
            try await Task.sleep(for: .milliseconds(100))
            let final = counts.current
            #expect(final.reduce(0, +) == total, "each message goes to exactly one member")
            #expect(final[0] > 0 && final[1] > 0, "both members got work: \(final)")
            withExtendedLifetime((first, second)) {}
            await connection.close()
        }
    }

    @Test func headersRoundTrip() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let subscription = try connection.subscribe(to: "with.headers")
            var headers = NATSHeaders()
            headers["Trace-Id"] = "abc"
            headers["trace-id"] = "lower"
            headers.append("one", for: "Multi")
            headers.append("two", for: "Multi")
            try connection.publish(to: "with.headers", payload: Array("body".utf8), headers: headers)
            let message = try #require(try await collect(subscription, count: 1).first)
            let received = try #require(message.headers)
            #expect(received["Trace-Id"] == "abc")
            #expect(received["trace-id"] == "lower", "keys are case-sensitive")
            #expect(received.values(for: "Multi") == ["one", "two"])
            #expect(received == headers)
            #expect(message.payload == Array("body".utf8))
            await connection.close()
        }
    }

    @Test func unsubscribeAndAutoUnsubscribe() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let auto = try connection.subscribe(to: "auto")
            try auto.autoUnsubscribe(after: 3)
            for index in 0..<10 { try connection.publish(to: "auto", payload: [UInt8(index)]) }
            try await connection.flush(timeout: .seconds(2))
            let messages = try await within(.seconds(5)) {
                var all: [NATSMessage] = []
                for await message in auto { all.append(message) }  // ends after the third
                return all
            }
            #expect(messages.map(\.payload) == [[0], [1], [2]])
            #expect(!auto.isValid)

            let manual = try connection.subscribe(to: "manual")
            try manual.unsubscribe()
            #expect(!manual.isValid)
            #expect(throws: NATSError.self) { try manual.unsubscribe() }
            await connection.close()
        }
    }

    @Test func invalidSubjectIsAnError() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let error = try #require(throws: NATSError.self) { try connection.publish(to: "", payload: []) }
            #expect(error.code == .invalidSubject)
            #expect(!error.message.isEmpty)
            await connection.close()
        }
    }

    @Test func slowConsumerDropsAreCounted() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let events = connection.events
            // A sequence nobody reads, with a tiny buffer and tiny cnats limits.
            let subscription = try connection.subscribe(to: "flood", bufferLimit: 5)
            try subscription.setPendingLimits(messages: 5, bytes: -1)
            #expect(try subscription.pendingLimits.messages == 5)
            for _ in 0..<500 { try connection.publish(to: "flood", payload: [1, 2, 3]) }
            try await connection.flush(timeout: .seconds(2))
            #expect(try await eventually { ((try? subscription.dropped) ?? 0) > 0 })
            let slow = try await waitForEvent(events) {
                if case .error(let error, "flood") = $0 { return error.code == .slowConsumer } else { return false }
            }
            if case .error(let error, _) = slow { #expect(!error.message.isEmpty) }
            let first = try await collect(subscription, count: 1)
            #expect(first.count == 1)
            await connection.close()
        }
    }
}

@Suite("Connection")
struct ConnectionTests {
    @Test func statisticsAndRTT() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let subscription = try connection.subscribe(to: "stats")
            for _ in 0..<20 { try connection.publish(to: "stats", payload: Array(repeating: 7, count: 10)) }
            _ = try await collect(subscription, count: 20)
            let stats = connection.statistics
            #expect(stats.outMessages >= 20)
            #expect(stats.outBytes >= 200)
            #expect(stats.inMessages >= 20)
            #expect(stats.inBytes >= 200)
            #expect(stats.reconnects == 0)
            let rtt = try await connection.rtt()
            // A round trip to a local server (the bound is scaled for sanitizer runs).
            #expect(rtt > .zero && rtt < Duration.seconds(1).scaledForTests)
            #expect(connection.connectedURL == server.url)
            #expect(connection.maxPayload == 1024 * 1024)
            #expect(connection.newInbox().hasPrefix("_INBOX."))
            #expect(connection.newInbox() != connection.newInbox())
            await connection.close()
        }
    }

    @Test func connectFailureIsNoServer() async throws {
        var options = NATSOptions(url: "nats://127.0.0.1:1")
        options.allowReconnect = false
        options.connectTimeout = .milliseconds(500)
        let error = try await #require(throws: NATSError.self) { try await NATSConnection.connect(options) }
        #expect(error.code == .noServer)
    }

    @Test func closeEndsEverything() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let events = connection.events
            let subscription = try connection.subscribe(to: "x")
            let ended = Task {
                for await _ in subscription {}; return true
            }
            await connection.close()
            #expect(connection.isClosed)
            #expect(try await within(.seconds(5)) { await ended.value })
            let last = try await waitForEvent(events) { $0 == .closed }
            #expect(last == .closed)
            let error = try #require(throws: NATSError.self) { try connection.publish(to: "x", payload: []) }
            #expect(error.code == .connectionClosed)
            let requestError = try await #require(throws: NATSError.self) {
                try await connection.request(to: "x", payload: [], timeout: .seconds(1))
            }
            #expect(requestError.code == .connectionClosed)
        }
    }

    @Test func maxPayloadIsAClearError() async throws {
        var configuration = NATSServerConfiguration()
        configuration.maxPayload = 1024
        try await withNATSServer(configuration) { server in
            let connection = try await connect(server)
            #expect(connection.maxPayload == 1024)
            let error = try #require(throws: NATSError.self) {
                try connection.publish(to: "big", payload: Array(repeating: 0, count: 2000))
            }
            #expect(error.code == .maxPayload)
            #expect(!error.message.isEmpty)
            let requestError = try await #require(throws: NATSError.self) {
                try await connection.request(to: "big", payload: Array(repeating: 0, count: 2000), timeout: .seconds(5))
            }
            #expect(requestError.code == .maxPayload)
            #expect(connection.pendingRequestCount == 0)
            await connection.close()
        }
    }
}
