import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing
import HemeraLocks

struct AddInts: HemeraPattern {
    typealias Reply = Int
    static let topic = "math"
    static let cmd: String? = "add"
    var a: Int
    var b: Int
}

/// A deterministic generator (SplitMix64), so a failure can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Hostile messages of every kind, each index mapping to one kind.
func hostileMessage(_ index: Int, maxPayload: Int, random: inout SplitMix) -> [UInt8] {
    let valid =
        #"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{},"request":{"id":"x","type":"request"},"trace":{}}"#
    switch index % 12 {
    case 0:  // random bytes
        return (0..<Int.random(in: 0...512, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
    case 1:  // truncated valid JSON
        let bytes = Array(valid.utf8)
        return Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
    case 2:  // invalid JSON
        return Array(#"{"pattern":{"topic":"math",,"cmd":add}"#.utf8)
    case 3:  // deep nesting in the pattern
        let depth = Int.random(in: 100...5000, using: &random)
        return Array(
            (#"{"pattern":{"topic":"math","cmd":"add","a":"# + String(repeating: "[", count: depth)
                + String(repeating: "]", count: depth) + #","b":2},"request":{"type":"request"}}"#).utf8
        )
    case 4:  // wrong types for the typed action
        return Array(
            #"{"pattern":{"topic":"math","cmd":"add","a":"one","b":{"x":1}},"request":{"type":"request"}}"#.utf8
        )
    case 5:  // missing request object
        return Array(#"{"pattern":{"topic":"math","cmd":"add","a":1,"b":2},"meta":{}}"#.utf8)
    case 6:  // unknown pattern
        return Array(#"{"pattern":{"topic":"math","cmd":"sqrt","x":4},"request":{"type":"request"}}"#.utf8)
    case 7:  // not an object / wrong envelope types
        return Array(
            [
                #"[1,2,3]"#, #""text""#, "null", #"{"pattern":"math"}"#,
                #"{"pattern":{"topic":"math","cmd":"add"},"request":"yes"}"#,
            ][
                Int.random(in: 0..<5, using: &random)
            ].utf8
        )
    case 8:  // overflowing numbers and odd values
        return Array(
            #"{"pattern":{"topic":"math","cmd":"add","a":1e400,"b":99999999999999999999999},"request":{"type":"request"}}"#
                .utf8
        )
    case 9:  // invalid UTF-8 inside strings
        return Array(#"{"pattern":{"topic":"math","cmd":""#.utf8) + [0xFF, 0xFE, 0xC0]
            + Array(#""},"request":{}}"#.utf8)
    case 10:  // big payloads, up to the max payload, with a valid-looking but unknown pattern
        let size = index % 120 == 10 ? maxPayload : Int.random(in: 1000...20_000, using: &random)
        let head = #"{"pattern":{"topic":"math","cmd":"nope","pad":""#
        let tail = #""},"request":{"type":"request"}}"#
        let filler = max(0, size - head.utf8.count - tail.utf8.count)
        return Array((head + String(repeating: "z", count: filler) + tail).utf8)
    default:  // duplicate keys, nulls, empty objects
        return Array(
            [
                #"{}"#, #"{"pattern":{},"request":{}}"#, #"{"pattern":{"topic":null},"request":{}}"#,
                #"{"pattern":{"topic":"math","topic":"math","cmd":"add","a":1,"b":1,"a":"x"},"request":{}}"#,
            ][
                Int.random(in: 0..<4, using: &random)
            ].utf8
        )
    }
}

extension Reliability {
    @Suite("Hostile input", .timeLimit(.minutes(2)))
    struct HostileFloodTests {
        @Test("10,000+ hostile messages while a normal client acts: no crash, typed errors, normal acts succeed")
        func hostileFlood() async throws {
            var configuration = NATSServerConfiguration()
            configuration.maxPayload = 256 * 1024
            try await withNATSServer(configuration) { server in
                let service = try await connectHemera(NATSOptions(url: server.url), options: hemeraOptions("math"))
                try service.add(AddInts.self) { request, _ in request.a + request.b }
                try await service.ready()

                // The hostile peer: raw NATS, its own reply subjects.
                let peer = try await NATSConnection.connect(NATSOptions(url: server.url), logger: quietLogger("peer"))
                let maxPayload = peer.maxPayload
                let replies = PthreadLock<(count: Int, typed: Int, names: [String: Int], bad: [String])>(
                    (0, 0, [:], [])
                )
                let inbox = try peer.subscribe(to: "hostile.>", queue: nil) { message in
                    let text = String(decoding: message.payload, as: UTF8.self)
                    let value = try? HemeraJSONDecoder().decode(JSONValue.self, from: message.payload)
                    let name = value?["error"]?["name"]?.stringValue
                    replies.withLock {
                        $0.count += 1
                        if let name {
                            $0.typed += 1
                            $0.names[name, default: 0] += 1
                        } else if $0.bad.count < 5 {
                            $0.bad.append(String(text.prefix(200)))
                        }
                    }
                }
                try await peer.flush(timeout: .seconds(5))

                let client = try await connectHemera(NATSOptions(url: server.url), options: hemeraOptions("client"))
                let hostileCount = 10_200
                var withReply = 0
                let normal = Counter()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for n in 0..<300 {
                            // Generous: under ThreadSanitizer the service works through a backlog of hostile messages.
                            let sum: Int = try await client.act(AddInts(a: n, b: 1), timeout: .seconds(20))
                            if sum == n + 1 { normal.add("ok") } else { normal.add("wrong") }
                        }
                    }
                    var random = SplitMix(state: 0x4E41_5453)
                    for index in 0..<hostileCount {
                        let payload = hostileMessage(index, maxPayload: maxPayload, random: &random)
                        // Every 10th message has no reply subject (fire and forget).
                        let replyTo = index % 10 == 9 ? nil : "hostile.\(index)"
                        if replyTo != nil { withReply += 1 }
                        try peer.publish(to: "math", payload: Array(payload.prefix(maxPayload)), replyTo: replyTo)
                        if index % 500 == 499 { try await peer.flush(timeout: .seconds(10)) }
                        // Lets the other tests' tasks run on the few cooperative threads.
                        if index % 50 == 49 { await Task.yield() }
                    }
                    try await peer.flush(timeout: .seconds(10))
                    try await group.waitForAll()
                }
                let expected = withReply
                try await waitUntil(timeout: .seconds(20)) { replies.withLock { $0.count } >= expected }
                let seen = replies.withLock { $0 }
                print(
                    "hostile flood: \(hostileCount) sent, \(expected) with a reply subject, \(seen.count) replies, "
                        + "\(seen.typed) typed errors \(seen.names); normal acts \(normal.all)"
                )
                #expect(seen.count == expected)
                #expect(seen.typed == expected, "untyped replies: \(seen.bad)")
                #expect(normal["ok"] == 300)
                // The service is still up and answering.
                let after: Int = try await client.act(AddInts(a: 20, b: 22))
                #expect(after == 42)
                try inbox.unsubscribe()
                await peer.close()
                await client.close()
                await service.close()
            }
        }
    }
}
