import CNats
import HemeraTesting
import Testing

@testable import HemeraNATS

/// A cnats message with `size` payload bytes, as cnats allocates received ones (garbage-collected).
/// cnats is opened first: destroying such a message needs the library's garbage collector, which
/// only exists once the library is open (a connection opens it; these tests may run before any).
private func makeMessage(size: Int) -> OpaquePointer {
    do {
        try NATSLibrary.openIfNeeded()
    } catch {
        preconditionFailure("cnats did not open: \(error)")
    }
    var message: OpaquePointer?
    let payload = [CChar](repeating: 97, count: size)
    let status = natsMsg_Create(&message, "reaper.test", nil, payload, Int32(size))
    precondition(status == NATS_OK && message != nil, "natsMsg_Create failed: \(status)")
    return message!
}

@Suite("MessageReaper")
struct MessageReaperTests {
    @Test("messages wait until a batch of maxCount is full, then all are destroyed")
    func countBound() {
        let reaper = MessageReaper()
        for index in 1..<MessageReaper.maxCount {
            reaper.release(makeMessage(size: 10))
            #expect(reaper.pendingCount == index)
        }
        reaper.release(makeMessage(size: 10))
        #expect(reaper.pendingCount == 0)
    }

    @Test("a large payload ends the batch at once (the byte bound)")
    func byteBound() {
        let reaper = MessageReaper()
        reaper.release(makeMessage(size: 100))
        #expect(reaper.pendingCount == 1)
        reaper.release(makeMessage(size: MessageReaper.maxBytes))
        #expect(reaper.pendingCount == 0)
    }

    @Test("messages are freed directly on cnats 3.4.x, batched elsewhere")
    func directFreeOnCheckedVersions() throws {
        try NATSLibrary.openIfNeeded()
        let checkedVersion = nats_GetVersionNumber() >> 8 == 0x0304
        #expect((directMessageFree != nil) == checkedVersion)
        // Freed at once (AddressSanitizer runs of this suite catch a double free or a leak).
        releaseMessage(makeMessage(size: 100))
    }

    @Test("drain destroys what waits")
    func drain() {
        let reaper = MessageReaper()
        for _ in 0..<5 { reaper.release(makeMessage(size: 1)) }
        #expect(reaper.pendingCount == 5)
        reaper.drain()
        #expect(reaper.pendingCount == 0)
    }

    @Test("requests and subscriptions over a real server keep the shared reaper bounded")
    func boundedUnderTraffic() async throws {
        try await withNATSServer { server in
            let connection = try await NATSConnection.connect(NATSOptions(url: server.url))
            let responder = try connection.subscribe(to: "reaper.echo") { message in
                guard let replyTo = message.replyTo else { return }
                do {
                    try connection.publish(to: replyTo, payload: message.payload)
                } catch {
                    Issue.record("reply failed: \(error)")
                }
            }
            var headers = NATSHeaders()
            headers["X-Test"] = "1"
            for index in 0..<300 {
                let payload = Array("m\(index)".utf8)
                let reply = try await connection.request(
                    to: "reaper.echo",
                    payload: payload,
                    headers: index.isMultiple(of: 2) ? headers : nil,
                    timeout: .seconds(5)
                )
                #expect(reply.payload == payload)
                #expect(MessageReaper.shared.pendingCount < MessageReaper.maxCount)
            }
            try responder.unsubscribe()
            await connection.close()
        }
    }
}
