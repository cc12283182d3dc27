import Foundation
import HemeraNATS
import HemeraTesting
import Testing

struct TestTimeout: Error, CustomStringConvertible {
    var description: String
}

/// Runs `body`, failing with `TestTimeout` after `timeout`.
func within<T: Sendable>(
    _ timeout: Duration,
    _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw TestTimeout(description: "\(what) did not finish within \(timeout)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// The first `count` messages of a subscription.
func collect(_ subscription: NATSSubscription, count: Int, timeout: Duration = .seconds(5)) async throws
    -> [NATSMessage]
{
    try await within(timeout, "receiving \(count) messages") {
        var messages: [NATSMessage] = []
        if count == 0 { return messages }
        for await message in subscription {
            messages.append(message)
            if messages.count == count { break }
        }
        return messages
    }
}

/// Connects to a test server and checks the connection reached that very server.
func connect(_ server: NATSTestServer, _ configure: (inout NATSOptions) -> Void = { _ in }) async throws
    -> NATSConnection
{
    var options = NATSOptions(url: server.url)
    options.name = "hemera-tests"
    configure(&options)
    let connection = try await NATSConnection.connect(options)
    #expect(connection.connectedServerID == server.serverID)
    return connection
}

/// A responder that answers every request with `prefix + payload` and echoes headers.
///
/// A failed reply is a test failure, except, with `closesUnderLoad`, the replies to requests still
/// queued when a test closes the responder's connection on purpose (they fail with
/// ``NATSError/Code/connectionClosed``).
func startEchoResponder(
    _ connection: NATSConnection,
    subject: String,
    prefix: String = "re:",
    queue: String? = nil,
    closesUnderLoad: Bool = false
) throws -> NATSSubscription {
    try connection.subscribe(to: subject, queue: queue) { message in
        guard let reply = message.replyTo else { return }
        do {
            try connection.publish(to: reply, payload: Array(prefix.utf8) + message.payload, headers: message.headers)
        } catch let error as NATSError where closesUnderLoad && error.code == .connectionClosed {
            // Expected: the test closed this connection while requests were still queued.
        } catch {
            Issue.record("responder publish failed: \(error)")
        }
    }
}

/// A thread-safe counter/collector for callback subscriptions.
final class Box<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func with<R>(_ body: (inout Value) -> R) -> R { self.lock.withLock { body(&self.value) } }
    var current: Value { self.with { $0 } }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// Waits for the first event matching `predicate`.
func waitForEvent(
    _ events: NATSConnectionEvents,
    timeout: Duration = .seconds(10),
    _ predicate: @escaping @Sendable (NATSConnectionEvent) -> Bool
) async throws -> NATSConnectionEvent {
    try await within(timeout, "waiting for an event") {
        for await event in events where predicate(event) {
            return event
        }
        throw TestTimeout(description: "events ended")
    }
}

/// A server restart under a connection, as LifecycleTests and EventLoopTests check it: the
/// connection reconnects to the same port and a new server, a publish made while disconnected is
/// delivered from the reconnect buffer, subscriptions and the reply inbox work again.
/// `afterReconnect` and `afterClose` add the checks of a particular write mode.
func checkReconnectAfterServerRestart(
    subjectPrefix prefix: String,
    configure: (inout NATSOptions) -> Void = { _ in },
    afterReconnect: (NATSConnection) throws -> Void = { _ in },
    afterClose: (NATSConnection) async throws -> Void = { _ in }
) async throws {
    let server = NATSTestServer()
    defer { server.stop() }
    try await server.start()
    let port = server.port
    let connection = try await connect(server) {
        configure(&$0)
        $0.reconnectWait = .milliseconds(100)
        $0.reconnectJitter = (.zero, .zero)
        $0.maxReconnectAttempts = nil
    }
    let events = connection.events
    let subscription = try connection.subscribe(to: "\(prefix)survives")
    let responder = try startEchoResponder(connection, subject: "\(prefix)restart")
    try await connection.flush(timeout: .seconds(2))
    let oldID = server.serverID

    server.stop()
    _ = try await waitForEvent(events) { $0 == .disconnected }
    // Published while disconnected: kept in the reconnect buffer.
    try connection.publish(to: "\(prefix)survives", payload: Array("buffered".utf8))
    try await server.start()
    #expect(server.port == port, "restarted on the same port")
    #expect(server.serverID != oldID)
    let reconnected = try await waitForEvent(events) {
        if case .reconnected = $0 { return true } else { return false }
    }
    #expect(reconnected == .reconnected(url: server.url))
    #expect(connection.connectedServerID == server.serverID)
    try afterReconnect(connection)
    try connection.publish(to: "\(prefix)survives", payload: Array("after".utf8))
    let messages = try await collect(subscription, count: 2)
    #expect(messages.map { String(decoding: $0.payload, as: UTF8.self) } == ["buffered", "after"])
    let reply = try await connection.request(to: "\(prefix)restart", payload: [1], timeout: .seconds(5))
    #expect(reply.payload == Array("re:".utf8) + [1])
    #expect(connection.statistics.reconnects == 1)
    withExtendedLifetime(responder) {}
    await connection.close()
    try await afterClose(connection)
}
