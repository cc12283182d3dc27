// libFuzzer target over Hemera's whole inbound path: `make fuzz` (FUZZ_SECONDS=600 by default).
//
// Compiled together with Sources/Hemera/*.swift (without the NATS transport) into one module, over
// HemeraJSON and swift-log built as static libraries (see the Makefile), so the plain
// `swift build` never sees it. Each input is one message as a service receives it: an optional
// `Hemera-Timeout` header (when the first byte is 0x01, the next byte gives its length), then
// the payload. It goes through envelope parsing, routing over untyped, typed (validated),
// regex and coercing actions, the deadline check, the handler and the reply encoding. Any input
// must give exactly one reply (a result or a typed error) on the in-memory transport, never a
// trap, a leak or a memory error.

struct FuzzAdd: HemeraPattern {
    typealias Reply = Int
    static let topic = "math"
    static let cmd: String? = "add"
    var a: Int
    var b: Int
}

struct FuzzUser: HemeraPattern {
    typealias Reply = JSONValue
    static let topic = "users"
    static let cmd: String? = "create"
    var name: String
    var age: UInt8
    var tags: [String]?
    var score: Double?
}

final class ReplyCounter: @unchecked Sendable {
    // @unchecked: only touched on the fuzzing thread (the in-memory transport delivers
    // synchronously, and every handler here completes without suspending).
    var count = 0
    var last: [UInt8] = []
}

let transport = InMemoryTransport()
let hemera = Hemera(transport: transport, options: HemeraOptions(app: "fuzz"))
let replies = ReplyCounter()
let inboxSubscription: any HemeraTransportSubscription = {
    do {
        try hemera.add(["topic": "math", "cmd": "sub"]) { pattern, _ in
            .integer((pattern["a"]?.integerValue ?? 0) &- (pattern["b"]?.integerValue ?? 0))
        }
        try hemera.add(FuzzAdd.self) { request, _ in request.a &+ request.b }
        try hemera.add(FuzzUser.self, options: AddOptions(validation: .coerce)) { request, _ in
            ["name": .string(request.name), "age": .integer(Int64(request.age))]
        }
        try hemera.add(try Pattern(["topic": "math"]).matching("cmd", regex: "^mul.*$")) { pattern, _ in
            pattern["a"] ?? .null
        }
        try hemera.add(["topic": "math", "cmd": "fail"]) { _, _ in
            throw HemeraError(name: "Failed", message: "always", extra: ["stack": "secret"])
        }
        return try transport.subscribe(to: "fuzz.reply", queue: nil) { message in
            replies.count += 1
            replies.last = message.payload
        }
    } catch {
        fatalError("fuzz setup failed: \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInboundMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = inboxSubscription
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var headers: [String: String] = [:]
    if bytes.count >= 2, bytes[0] == 1 {
        let length = min(Int(bytes[1]), bytes.count - 2)
        headers[HemeraHeaders.timeout] = String(decoding: bytes[2..<(2 + length)], as: UTF8.self)
        bytes.removeFirst(2 + length)
    }
    let subject = bytes.first.map { $0 & 1 == 0 ? "math" : "users" } ?? "math"
    let before = replies.count
    let message = TransportMessage(subject: subject, replyTo: "fuzz.reply", payload: bytes, headers: headers)
    hemera.receive(message, key: SubscriptionKey(topic: subject, queue: "queue.\(subject)"))
    // Exactly one reply, a JSON object with `error` or `result`, and no stack on the wire.
    precondition(replies.count == before + 1, "expected one reply, got \(replies.count - before)")
    let reply: JSONValue
    do {
        reply = try EnvelopeParser.parse(replies.last)
    } catch {
        fatalError("the reply is not JSON: \(error)")
    }
    precondition(reply.objectValue != nil, "the reply is not an object")
    if let error = reply["error"], !error.isNull {
        precondition(error["name"]?.stringValue != nil, "an error without a name")
        precondition(error["stack"] == nil, "a stack trace on the wire")
    }
    return 0
}

/// Registers the actions before the first input, so one-time allocations are not charged to it.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    _ = inboxSubscription
    return 0
}
