import Foundation
@testable import Hemera
import Testing
import HemeraLocks

/// One line of `hemera7-capture.jsonl`: the real bytes a Hemera 7 peer put on the wire.
struct CapturedMessage: Sendable {
    let subject: String
    let reply: String?
    let payload: JSONValue
    /// The payload exactly as captured.
    let rawPayload: [UInt8]
    let line: Int

    var isRequest: Bool { !subject.hasPrefix("_INBOX.") }

    static let all: [CapturedMessage] = {
        guard
            let url = Bundle.module.url(
                forResource: "hemera7-capture",
                withExtension: "jsonl",
                subdirectory: "Resources"
            ),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        var messages: [CapturedMessage] = []
        for (index, line) in text.split(separator: "\n").enumerated() {
            guard let json = try? JSONValue(parsing: Array(line.utf8)), let range = line.range(of: "\"payload\":")
            else { continue }
            let raw = line[range.upperBound...].dropLast()  // the payload is the last member
            messages.append(
                CapturedMessage(
                    subject: json["subject"]?.stringValue ?? "",
                    reply: json["reply"]?.stringValue,
                    payload: json["payload"] ?? .null,
                    rawPayload: Array(raw.utf8),
                    line: index + 1
                )
            )
        }
        return messages
    }()

    /// The captured replies to this request, in order.
    var replies: [CapturedMessage] { reply.map { inbox in Self.all.filter { $0.subject == inbox } } ?? [] }
}

func keys(_ value: JSONValue?) -> [String] { value?.objectValue?.keys.sorted() ?? [] }

func numbersEqual(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
    guard let a, let b else { return a == nil && b == nil }
    return patternValuesEqual(a, b) || a == b
}

/// A Swift service offering every pattern of the capture, as the Node service did.
func startCaptureService(_ env: Env, events: Recorder) async throws -> Hemera {
    let math = try await env.hemera(app: "math-service")
    try math.add(Add.self) { request, _ in request.a + request.b }
    try math.add("topic:math,cmd:mul") { pattern, _ in
        .integer((pattern["a"]?.integerValue ?? 0) * (pattern["b"]?.integerValue ?? 0))
    }
    try math.add("topic:math,cmd:fail") { _, _ in throw Unauthorized(user: "bob") }
    try math.addStreaming(Count.self) { request, _, writer in
        for index in 1...request.n { try await writer.send(index) }
    }
    try math.add("topic:math,cmd:nested") { pattern, _ in
        let sum = try await math.act(
            Add(a: Int(pattern["a"]?.integerValue ?? 0), b: Int(pattern["b"]?.integerValue ?? 0))
        )
        return ["sum": .integer(Int64(sum))]
    }
    try math.add("topic:geo.*,cmd:ping") { _, context in .string("pong from \(context.subject)") }
    try math.add(["topic": "events", "cmd": "log", "pubsub$": true]) { pattern, context in
        events.append("\(context.request.type.rawValue):\(pattern["msg"]?.stringValue ?? "")")
        return .null
    }
    try math.add(Divide.self, options: AddOptions(validation: .coerce)) { request, _ in request.a / request.b }
    try math.add("topic:stats,cmd:registeredActions") { _, _ in
        [
            "app": .string(math.options.app), "ts": .double(epochMilliseconds()),
            "actions": .array(math.actions.map { ["pattern": $0.pattern, "schema": $0.schema] }),
        ]
    }
    try await math.transport.flush(timeout: .seconds(1))
    return math
}

@Suite(.timeLimit(.minutes(1))) struct WireCompatibilityTests {
    @Test func captureIsComplete() {
        #expect(CapturedMessage.all.count == 26)
        #expect(CapturedMessage.all.filter(\.isRequest).count == 13)
    }

    /// Our client decodes every captured reply: results, errors (leniently, unknown fields kept).
    @Test func decodeEveryCapturedMessage() throws {
        for message in CapturedMessage.all {
            if message.isRequest {
                let pattern = try Pattern(json: try #require(message.payload["pattern"]))
                #expect(pattern.method == message.payload["request"]?["method"]?.stringValue, "line \(message.line)")
                #expect(pattern.method == message.payload["trace"]?["method"]?.stringValue, "line \(message.line)")
                let trace = HemeraTrace(wire: message.payload["trace"])
                #expect(!trace.traceId.isEmpty && !trace.spanId.isEmpty && trace.timestamp > 0)
                continue
            }
            let error = message.payload["error"]
            do {
                let response = try Hemera.decodeReplyEnvelope(message.rawPayload)
                #expect(error == .null, "line \(message.line)")
                #expect(response.result == message.payload["result"], "line \(message.line)")
                #expect(response.meta == message.payload["meta"]?.objectValue, "line \(message.line)")
            } catch let decoded as HemeraError {
                #expect(decoded.name.rawValue == error?["name"]?.stringValue, "line \(message.line)")
                #expect(decoded.message == error?["message"]?.stringValue)
                #expect(decoded.code == error?["code"])
                #expect(decoded.details == error?["details"])
                #expect(decoded.hops.count == error?["hops"]?.arrayValue?.count)
                #expect(decoded.extra["stack"] != nil)
                // Sent on again without the stack, with everything else.
                let resent = decoded.wire()
                #expect(keys(resent) == keys(error).filter { $0 != "stack" }, "line \(message.line)")
            }
        }
    }

    /// Every captured request, as raw bytes from a Hemera 7 client, at a Swift service.
    @Test(arguments: allKinds) func capturedRequestsAtASwiftService(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let events = Recorder()
            _ = try await startCaptureService(env, events: events)
            let raw = try await env.transport()
            for request in CapturedMessage.all where request.isRequest {
                let expected = request.replies
                if request.reply == nil {
                    try raw.publish(to: request.subject, payload: request.rawPayload, replyTo: nil)
                    continue
                }
                if expected.isEmpty {  // nobody listened in the capture
                    await #expect(throws: TransportError.self) {
                        _ = try await raw.request(
                            to: request.subject,
                            payload: request.rawPayload,
                            timeout: .seconds(5)
                        )
                    }
                    continue
                }
                var replies: [JSONValue] = []
                if expected.count > 1 {
                    for try await reply in raw.requestMany(
                        to: request.subject,
                        payload: request.rawPayload,
                        timeout: .seconds(2),
                        maxReplies: expected.count
                    ) {
                        replies.append(try JSONValue(parsing: reply.payload))
                    }
                } else {
                    let reply = try await raw.request(
                        to: request.subject,
                        payload: request.rawPayload,
                        timeout: .seconds(2)
                    )
                    replies.append(try JSONValue(parsing: reply.payload))
                }
                #expect(replies.count == expected.count, "line \(request.line)")
                for (ours, theirs) in zip(replies, expected.map(\.payload)) {
                    let context = "line \(request.line) \(request.payload["pattern"]?["cmd"]?.stringValue ?? "")"
                    #expect(keys(ours) == keys(theirs), "\(context)")
                    #expect(ours["meta"] == theirs["meta"], "\(context)")
                    #expect(ours["trace"] == theirs["trace"], "\(context)")
                    #expect(ours["request"] == theirs["request"], "\(context)")
                    if theirs["error"] == .null {
                        #expect(ours["error"] == .null, "\(context)")
                        if request.payload["pattern"]?["topic"] == "stats" {
                            #expect(keys(ours["result"]) == keys(theirs["result"]), "\(context)")
                            #expect(keys(ours["result"]?["actions"]?[0]) == keys(theirs["result"]?["actions"]?[0]))
                        } else {
                            #expect(numbersEqual(ours["result"], theirs["result"]), "\(context)")
                        }
                    } else {
                        let error = try #require(ours["error"])
                        let their = try #require(theirs["error"])
                        #expect(error["name"] == their["name"], "\(context)")
                        #expect(error["stack"] == nil)
                        for key in ["name", "message", "hops"] { #expect(error[key] != nil, "\(context) \(key)") }
                        if let code = their["code"] { #expect(error["code"] == code) }
                        #expect(keys(error["hops"]?[0]) == keys(their["hops"]?[0]), "\(context)")
                        #expect(error["hops"]?[0]?["service"] == their["hops"]?[0]?["service"])
                        #expect(error["hops"]?[0]?["method"] == their["hops"]?[0]?["method"])
                        if let details = their["details"], case .array(let list) = details {
                            let ourDetails = try #require(error["details"]?.arrayValue)
                            #expect(ourDetails.count == list.count)
                            #expect(keys(ourDetails.first) == keys(list.first), "\(context)")
                            #expect(ourDetails.first?["path"] == list.first?["path"])
                            #expect(ourDetails.first?["type"] == list.first?["type"])
                        } else if let details = their["details"] {
                            #expect(error["details"] == details)
                        }
                    }
                }
            }
            #expect(await eventually { events.all == ["pubsub:hello"] })
        }
    }

    /// Our client against a "Node service" that answers with the captured Hemera 7 reply bytes.
    @Test(arguments: allKinds) func ourClientReadsCapturedReplies(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let raw = try await env.transport()
            let all = CapturedMessage.all
            // cmd → the captured replies of that request, in order
            var replies: [String: [[UInt8]]] = [:]
            for request in all where request.isRequest && request.subject == "math" {
                let cmd = request.payload["pattern"]?["cmd"]?.stringValue ?? ""
                if replies[cmd] == nil { replies[cmd] = request.replies.map(\.rawPayload) }
            }
            let table = replies
            let subscription = try raw.subscribe(to: "math", queue: nil) { message in
                guard let json = try? JSONValue(parsing: message.payload), let replyTo = message.replyTo,
                    let answers = table[json["pattern"]?["cmd"]?.stringValue ?? ""]
                else { return }
                for answer in answers { try? raw.publish(to: replyTo, payload: answer, replyTo: nil) }
            }
            defer { try? subscription.unsubscribe() }
            try await raw.flush(timeout: .seconds(1))
            let client = try await env.hemera()
            #expect(try await client.act(Add(a: 1, b: 2)) == 3)
            #expect(try await client.act("topic:math,cmd:mul,a:3,b:4") == 12)
            let error = await hemeraError { try await client.act("topic:math,cmd:fail") }
            #expect(error?.name == "Unauthorized")
            #expect(error?.code == "E_AUTH")
            #expect(error?.details == ["user": "bob"])
            #expect(
                error?.hops == [
                    .init(service: "math", method: "cmd:fail,topic:math", app: "math-service", ts: 457225.453095)
                ]
            )
            #expect(error?.extra["stack"]?.stringValue?.hasPrefix("Unauthorized: not allowed") == true)
            let notFound = await hemeraError { try await client.act("topic:math,cmd:nope") }
            #expect(notFound?.name == .patternNotFound)
            #expect(notFound?.extra["isServer"] == true)
            var counted: [Int] = []
            for try await value in try client.actMany(Count(n: 3), expectedMessages: 3) { counted.append(value) }
            #expect(counted == [1, 2, 3])
            #expect(try await client.act("topic:math,cmd:nested,a:5,b:6") == ["sum": 11])
        }
    }

    /// What our client sends carries the same fields as what Hemera 7 sends.
    @Test(arguments: allKinds) func encodedRequestsHaveTheCapturedShape(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let sent = PthreadLock<[String: JSONValue]>([:])
            let raw = try await env.transport()
            let rootReply = CapturedMessage.all[1].rawPayload
            let subscription = try raw.subscribe(to: "*", queue: nil) { message in
                guard let json = try? JSONValue(parsing: message.payload) else { return }
                let key = json["pattern"]?["cmd"]?.stringValue ?? ""
                sent.withLock { $0[key] = json }
                if let replyTo = message.replyTo { try? raw.publish(to: replyTo, payload: rootReply, replyTo: nil) }
            }
            defer { try? subscription.unsubscribe() }
            let relay = try await env.hemera(app: "relay")
            try relay.add("topic:relay,cmd:nested") { _, _ in
                try await relay.act(["topic": "math", "cmd": "add", "a": 5, "b": 6])
            }
            try await raw.flush(timeout: .seconds(1))
            try await relay.transport.flush(timeout: .seconds(1))
            let client = try await env.hemera(app: "client")
            _ = try await client.act(
                ["topic": "math", "cmd": "mul", "a": 3, "b": 4],
                meta: ["token": "abc"],
                delegate: ["tenant": "t1"]
            )
            _ = try await client.act("topic:relay,cmd:nested", meta: ["token": "abc"])
            try await client.publish("topic:events,cmd:log,msg:hello", meta: ["token": "abc"])
            #expect(await eventually { sent.withLock { $0.count } == 4 })
            let captured = CapturedMessage.all
            let pairs: [(String, JSONValue)] = [
                ("mul", captured[2].payload), ("add", captured[15].payload), ("log", captured[9].payload),
            ]
            for (cmd, theirs) in pairs {
                let ours = try #require(sent.withLock { $0[cmd] }, "\(cmd)")
                #expect(keys(ours) == keys(theirs), "\(cmd)")
                #expect(keys(ours["trace"]) == keys(theirs["trace"]), "\(cmd)")
                #expect(keys(ours["request"]) == keys(theirs["request"]), "\(cmd)")
                #expect(ours["request"]?["type"] == theirs["request"]?["type"], "\(cmd)")
                #expect(ours["request"]?["method"] == theirs["request"]?["method"], "\(cmd)")
                #expect(ours["trace"]?["method"] == theirs["trace"]?["method"], "\(cmd)")
                #expect(ours["meta"] == theirs["meta"], "\(cmd)")
            }
            #expect(sent.withLock { $0["mul"]?["pattern"] } == captured[2].payload["pattern"])
            #expect(sent.withLock { $0["mul"]?["delegate"] } == ["tenant": "t1"])
        }
    }
}
