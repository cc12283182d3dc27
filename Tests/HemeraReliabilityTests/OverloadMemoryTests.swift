import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import HemeraLocks
import Testing

/// A minimal Hemera request envelope for `topic:slow,cmd:work` with `n`.
func slowRequestEnvelope(_ n: Int) -> [UInt8] {
    Array(
        #"{"pattern":{"topic":"slow","cmd":"work","n":\#(n)},"meta":{},"delegate":{},"trace":{},"request":{"id":"r\#(n)","type":"request"}}"#
            .utf8
    )
}

extension Reliability {
    @Suite("Overload: a flood of slow requests is bounded by default", .timeLimit(.minutes(2)))
    struct OverloadMemoryTests {
        @Test(
            "30,000 slow requests: at most the default bound run, the rest get OverloadedError at once, memory bounded"
        )
        func floodOfSlowRequestsIsBounded() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(
                    faultOptions([server.url], name: "svc"),
                    options: hemeraOptions("svc")
                )
                let defaultBound = try #require(HemeraOptions().maxConcurrentRequests)
                // The handlers (5 s) outlast the bound on the refusals (4 s); a sanitizer run scales
                // both, since the refusals are slower there too.
                let slowFor = Duration.seconds(5).scaledForTests
                let started = Counter()
                try service.add(["topic": "slow", "cmd": "work"]) { _, _ in
                    started.add("run")
                    try await Task.sleep(for: slowFor)
                    return true
                }
                try await service.ready()
                // A raw client: no task per request on this side, so the memory measured is the service's.
                let client = try await NATSConnection.connect(faultOptions([server.url], name: "flood"))
                let replies = Counter()
                let firstReply = PthreadLockBox<ContinuousClock.Instant?>(nil)
                let clock = ContinuousClock()
                let inbox = try client.subscribe(to: "flood.replies.>") { message in
                    let text = String(decoding: message.payload, as: UTF8.self)
                    replies.add(
                        text.contains("\"OverloadedError\"")
                            ? "overloaded" : text.contains("\"error\":null") ? "ok" : "other"
                    )
                    firstReply.set { $0 ?? clock.now }
                }
                try await client.flush(timeout: .seconds(5))
                let before = ProcessFigures.now()
                var peakKiB = before.rssKiB
                let count = 30_000
                let start = clock.now
                for n in 0..<count {
                    try client.publish(to: "slow", payload: slowRequestEnvelope(n), replyTo: "flood.replies.\(n)")
                    if n % 1000 == 0 { peakKiB = max(peakKiB, ProcessFigures.now().rssKiB) }
                }
                try await client.flush(timeout: .seconds(10))
                // The excess is answered while the admitted ones still sleep.
                try await waitUntil(timeout: .seconds(20).scaledForTests) {
                    peakKiB = max(peakKiB, ProcessFigures.now().rssKiB)
                    return replies["overloaded"] >= count - defaultBound
                }
                let refusedIn = clock.now - start
                peakKiB = max(peakKiB, ProcessFigures.now().rssKiB)
                print(
                    "overload: \(replies.all) after \(refusedIn); \(started["run"]) started; "
                        + "RSS before \(before.rssKiB / 1024) MiB, peak \(peakKiB / 1024) MiB"
                )
                #expect(replies["overloaded"] == count - defaultBound, "\(replies.all)")
                #expect(started["run"] <= defaultBound)
                #expect(refusedIn < .seconds(4).scaledForTests, "the refusals waited for the slow handlers")
                // 5,000 requests in flight, about 9 KiB each; before the bound every one of 30,000 held a task.
                // Scaled under ThreadSanitizer (`testMemoryScale`, 3 in `make test-tsan`: 218 MiB there).
                #expect(
                    Double(peakKiB - before.rssKiB) < 150 * 1024 * testMemoryScale,
                    "RSS grew by \((peakKiB - before.rssKiB) / 1024) MiB"
                )
                // The admitted ones finish normally.
                try await waitUntil(timeout: .seconds(20).scaledForTests) { replies["ok"] == defaultBound }
                #expect(replies["ok"] == defaultBound)
                withExtendedLifetime(inbox) {}
                await client.close()
                await service.close()
            }
        }
    }
}

/// A value behind a lock, updated by a closure.
final class PthreadLockBox<Value: Sendable>: Sendable {
    private let lock: PthreadLock<Value>
    init(_ value: Value) { lock = PthreadLock(value) }
    func set(_ update: (Value) -> Value) { lock.withLock { $0 = update($0) } }
    var value: Value { lock.withLock { $0 } }
}
