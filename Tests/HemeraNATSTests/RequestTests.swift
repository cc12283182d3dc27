import Foundation
import HemeraNATS
import HemeraTesting
import Testing

@Suite("Request and reply")
struct RequestTests {
    @Test func requestReply() async throws {
        try await withNATSServer { server in
            let responderConnection = try await connect(server)
            let responder = try startEchoResponder(responderConnection, subject: "svc.echo")
            try await responderConnection.flush(timeout: .seconds(2))
            let connection = try await connect(server)
            for index in 0..<50 {
                let reply = try await connection.request(
                    to: "svc.echo",
                    payload: Array("\(index)".utf8),
                    timeout: .seconds(2)
                )
                #expect(String(decoding: reply.payload, as: UTF8.self) == "re:\(index)")
            }
            let withHeaders = try await connection.request(
                to: "svc.echo",
                payload: [],
                headers: ["k": "v"],
                timeout: .seconds(2)
            )
            #expect(withHeaders.headers?["k"] == "v")
            #expect(connection.pendingRequestCount == 0)
            withExtendedLifetime(responder) {}
            await connection.close()
            await responderConnection.close()
        }
    }

    @Test func concurrentRequests() async throws {
        try await withNATSServer { server in
            let responderConnection = try await connect(server)
            let responder = try startEchoResponder(responderConnection, subject: "svc.many")
            try await responderConnection.flush(timeout: .seconds(2))
            let connection = try await connect(server) { $0.writeMode = .buffered() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        let reply = try await connection.request(
                            to: "svc.many",
                            payload: Array("\(index)".utf8),
                            timeout: .seconds(10)
                        )
                        #expect(String(decoding: reply.payload, as: UTF8.self) == "re:\(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(connection.pendingRequestCount == 0)
            withExtendedLifetime(responder) {}
            await connection.close()
            await responderConnection.close()
        }
    }

    @Test func noRespondersFailsFast() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let clock = ContinuousClock()
            let start = clock.now
            let error = try await #require(throws: NATSError.self) {
                try await connection.request(to: "nobody.home", payload: [1], timeout: .seconds(30))
            }
            #expect(error.code == .noResponders)
            // At once, not at the 30 s timeout (the bound is scaled for sanitizer runs).
            #expect(clock.now - start < Duration.seconds(1).scaledForTests)
            #expect(connection.pendingRequestCount == 0)
            await connection.close()
        }
    }

    @Test func timeout() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let silent = try connection.subscribe(to: "silent") { _ in }
            try await connection.flush(timeout: .seconds(2))
            let clock = ContinuousClock()
            let start = clock.now
            let error = try await #require(throws: NATSError.self) {
                try await connection.request(to: "silent", payload: [], timeout: .milliseconds(300))
            }
            let elapsed = clock.now - start
            #expect(error.code == .timeout)
            #expect(elapsed >= .milliseconds(300))
            #expect(elapsed < Duration.seconds(3).scaledForTests)
            #expect(connection.pendingRequestCount == 0)
            // Timeouts of different lengths fire in deadline order, shorter first: the short one ends
            // before the long one (started first) does, whatever the machine's speed.
            let long = Task { () -> (Result<NATSMessage, any Error>, ContinuousClock.Instant) in
                do {
                    let reply = try await connection.request(to: "silent", payload: [], timeout: .milliseconds(900))
                    return (.success(reply), clock.now)
                } catch {
                    return (.failure(error), clock.now)
                }
            }
            let short = Task { try await connection.request(to: "silent", payload: [], timeout: .milliseconds(100)) }
            let shortStart = clock.now
            _ = await short.result
            let shortEnd = clock.now
            // Well under the long one's 900 ms: the ordering below is the real check; this bound is
            // wide because the whole suite shares Swift's two pool threads here, and a busy pool
            // delays the task that observes the timeout (seen: 0.9-1.2 s in full runs).
            #expect(shortEnd - shortStart < Duration.seconds(3).scaledForTests)
            let (longResult, longEnd) = await long.value
            #expect(shortEnd < longEnd)
            if case .failure(let longError as NATSError) = longResult {
                #expect(longError.code == .timeout)
            } else {
                Issue.record("long request should time out")
            }
            withExtendedLifetime(silent) {}
            await connection.close()
        }
    }

    @Test func cancellationEndsAtOnce() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let silent = try connection.subscribe(to: "silent") { _ in }
            try await connection.flush(timeout: .seconds(2))
            let task = Task {
                try await connection.request(to: "silent", payload: [], timeout: .seconds(30))
            }
            #expect(try await eventually { connection.pendingRequestCount == 1 })
            let clock = ContinuousClock()
            let start = clock.now
            task.cancel()
            let result = await task.result
            // At once, not at the 30 s timeout (the bound is scaled for sanitizer runs).
            #expect(clock.now - start < Duration.seconds(1).scaledForTests)
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(connection.pendingRequestCount == 0)
            // Already cancelled before the call.
            let early = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await connection.request(to: "silent", payload: [], timeout: .seconds(30))
            }
            await #expect(throws: CancellationError.self) { try await early.value }
            #expect(connection.pendingRequestCount == 0)
            withExtendedLifetime(silent) {}
            await connection.close()
        }
    }

    @Test func lateRepliesAreDropped() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            /// Answers `payload` after `delay` seconds, from a thread of its own.
            func delayedResponder(_ subject: String, after delay: Double, payload: [UInt8]) throws -> NATSSubscription {
                try connection.subscribe(to: subject) { message in
                    let reply = message.replyTo!
                    Thread.detachNewThread {
                        Thread.sleep(forTimeInterval: delay)
                        try? connection.publish(to: reply, payload: payload)
                    }
                }
            }
            // Replies after 300 ms to a request that waits 100 ms ...
            let slow = try delayedResponder("slow", after: 0.3, payload: [1])
            // ... while a later request, started at once after that timeout, waits for its own
            // reply (after 600 ms): the late [1] arrives while it is pending and must not end it.
            let later = try delayedResponder("later", after: 0.6, payload: [2])
            try await connection.flush(timeout: .seconds(2))
            await #expect(throws: NATSError.self) {
                try await connection.request(to: "slow", payload: [], timeout: .milliseconds(100))
            }
            let reply = try await connection.request(to: "later", payload: [], timeout: .seconds(10))
            #expect(reply.payload == [2], "the late reply did not satisfy a later request")
            try await Task.sleep(for: .milliseconds(100))
            #expect(connection.pendingRequestCount == 0)
            withExtendedLifetime((slow, later)) {}
            await connection.close()
        }
    }

    @Test func requestMany() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let responders = try (0..<3).map { index in
                try startEchoResponder(connection, subject: "gather", prefix: "r\(index):")
            }
            try await connection.flush(timeout: .seconds(2))
            var all: [String] = []
            for try await reply in connection.requestMany(
                to: "gather",
                payload: [],
                timeout: .milliseconds(500),
                maxReplies: nil
            ) {
                all.append(String(decoding: reply.payload, as: UTF8.self))
            }
            #expect(all.sorted() == ["r0:", "r1:", "r2:"])

            var two = 0
            let clock = ContinuousClock()
            let start = clock.now
            for try await _ in connection.requestMany(to: "gather", payload: [], timeout: .seconds(30), maxReplies: 2) {
                two += 1
            }
            #expect(two == 2)
            #expect(clock.now - start < Duration.seconds(2).scaledForTests, "ends after maxReplies, not at the 30 s timeout")

            let nobody = try await #require(throws: NATSError.self) {
                for try await _ in connection.requestMany(
                    to: "nobody",
                    payload: [],
                    timeout: .seconds(5),
                    maxReplies: nil
                ) {}
            }
            #expect(nobody.code == .noResponders)
            // Silence: a timeout error.
            let silent = try connection.subscribe(to: "quiet") { _ in }
            try await connection.flush(timeout: .seconds(2))
            do {
                for try await _ in connection.requestMany(
                    to: "quiet",
                    payload: [],
                    timeout: .milliseconds(200),
                    maxReplies: nil
                ) {}
                Issue.record("expected a timeout")
            } catch let error as NATSError {
                #expect(error.code == .timeout)
            }
            #expect(try await eventually { connection.pendingRequestCount == 0 })
            // Leaving the loop early removes the request at once.
            for try await _ in connection.requestMany(to: "gather", payload: [], timeout: .seconds(30), maxReplies: nil)
            {
                break
            }
            #expect(try await eventually { connection.pendingRequestCount == 0 })
            let abandoned = Task {
                for try await _ in connection.requestMany(
                    to: "quiet",
                    payload: [],
                    timeout: .seconds(30),
                    maxReplies: nil
                ) {}
            }
            #expect(try await eventually { connection.pendingRequestCount == 1 })
            abandoned.cancel()
            await #expect(throws: CancellationError.self) { try await abandoned.value }
            #expect(try await eventually { connection.pendingRequestCount == 0 })
            withExtendedLifetime((responders, silent)) {}
            await connection.close()
        }
    }

    @Test func customInboxPrefix() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server) { $0.inboxPrefix = "_HEMERA" }
            let seen = Box<[String]>([])
            let responder = try connection.subscribe(to: "prefixed") { message in
                seen.with { $0.append(message.replyTo ?? "") }
                try? connection.publish(to: message.replyTo!, payload: [])
            }
            try await connection.flush(timeout: .seconds(2))
            _ = try await connection.request(to: "prefixed", payload: [], timeout: .seconds(2))
            #expect(seen.current.count == 1)
            #expect(seen.current.allSatisfy { $0.hasPrefix("_HEMERA.") })
            #expect(connection.newInbox().hasPrefix("_HEMERA."))
            withExtendedLifetime(responder) {}
            await connection.close()
        }
    }
}
