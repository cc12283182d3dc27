import Foundation
import HemeraTesting
import Testing

@testable import HemeraNATS

@Suite("Reply executor")
struct ReplyExecutorTests {
    @Test("callers that prefer it continue on the reply thread, request after request")
    func resumesInline() async throws {
        try await withNATSServer { server in
            let responderConnection = try await connect(server)
            let responder = try startEchoResponder(responderConnection, subject: "inline.echo")
            try await responderConnection.flush(timeout: .seconds(2))
            let connection = try await connect(server)
            let executor = connection.replyExecutor
            // Without the preference the caller continues on Swift's pool, not inside a hand-off.
            _ = try await connection.request(to: "inline.echo", payload: [], timeout: .seconds(2))
            #expect(!executor.isDeliveringOnCurrentThread)
            let inline: [Bool] = try await withTaskExecutorPreference(executor) {
                var inline: [Bool] = []
                for index in 0..<200 {
                    let reply = try await connection.request(
                        to: "inline.echo",
                        payload: Array("\(index)".utf8),
                        timeout: .seconds(2)
                    )
                    #expect(String(decoding: reply.payload, as: UTF8.self) == "re:\(index)")
                    inline.append(executor.isDeliveringOnCurrentThread)
                }
                return inline
            }
            // A reply that arrives before its caller suspended lets the caller continue on the pool
            // thread it published from, so the first requests may race; once a caller continued on
            // the reply thread, it publishes from there, and that thread cannot hand over the next
            // reply before the caller suspends: every later resumption is inline.
            let first = try #require(inline.firstIndex(of: true))
            #expect(first < 100)
            #expect(inline[first...].allSatisfy { $0 })
            #expect(connection.pendingRequestCount == 0)
            withExtendedLifetime(responder) {}
            await connection.close()
            await responderConnection.close()
        }
    }

    @Test("several tasks preferring it run interleaved, each gets its own replies")
    func concurrentCallers() async throws {
        try await withNATSServer { server in
            let responderConnection = try await connect(server)
            let responder = try startEchoResponder(responderConnection, subject: "inline.many")
            try await responderConnection.flush(timeout: .seconds(2))
            let connection = try await connect(server)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<16 {
                    group.addTask {
                        try await withTaskExecutorPreference(connection.replyExecutor) {
                            for index in 0..<50 {
                                let text = "\(lane)-\(index)"
                                let reply = try await connection.request(
                                    to: "inline.many",
                                    payload: Array(text.utf8),
                                    timeout: .seconds(5)
                                )
                                #expect(String(decoding: reply.payload, as: UTF8.self) == "re:\(text)")
                            }
                        }
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

    @Test("timeouts, no responders and cancellation still end calls that prefer it")
    func failuresStillEndCalls() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let executor = connection.replyExecutor
            await withTaskExecutorPreference(executor) {
                // No responders: the 503 status arrives on the reply thread.
                _ = await #expect {
                    _ = try await connection.request(to: "inline.nobody", payload: [], timeout: .seconds(5))
                } throws: { ($0 as? NATSError)?.code == .noResponders }
            }
            // A timeout fires on the timer thread: the caller resumes through the thread pool.
            let silent = try connection.subscribe(to: "inline.silent") { _ in }
            try await connection.flush(timeout: .seconds(2))
            let started = ContinuousClock.now
            await withTaskExecutorPreference(executor) {
                _ = await #expect {
                    _ = try await connection.request(to: "inline.silent", payload: [], timeout: .milliseconds(200))
                } throws: { ($0 as? NATSError)?.code == .timeout }
            }
            #expect(ContinuousClock.now - started < Duration.seconds(2).scaledForTests)
            // Cancellation from another task.
            let task = Task {
                try await withTaskExecutorPreference(executor) {
                    _ = try await connection.request(to: "inline.silent", payload: [], timeout: .seconds(30))
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(connection.pendingRequestCount == 0)
            withExtendedLifetime(silent) {}
            await connection.close()
        }
    }
}
