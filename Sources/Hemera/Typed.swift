public import HemeraJSON

/// A typed pattern: declares its routing keys, carries its payload as Codable properties and names
/// its reply type.
///
/// ```swift
/// struct Add: HemeraPattern {
///     static let topic = "math"
///     static let cmd: String? = "add"
///     typealias Reply = Int
///     var a: Int
///     var b: Int
/// }
/// let sum = try await hemera.act(Add(a: 1, b: 2))   // 3
/// ```
public protocol HemeraPattern: HemeraEvent {
    /// The reply's type (`JSONValue` for anything).
    associatedtype Reply: Codable & Sendable
}

/// A typed message without a reply: an event published to every subscriber (`pubsub$`), declared
/// like a ``HemeraPattern`` without its `Reply`.
///
/// ```swift
/// struct OrderCreated: HemeraEvent {
///     static let topic = "orders"
///     static let cmd: String? = "created"
///     var id: Int
/// }
/// try hemera.subscribe(OrderCreated.self) { event, context in print("order \(event.id)") }
/// try await hemera.publish(OrderCreated(id: 7))
/// ```
public protocol HemeraEvent: Codable, Sendable {
    /// The NATS subject.
    static var topic: String { get }
    /// The `cmd` key, or `nil` for a pattern routed by its topic alone. Required, with this type:
    /// `static let cmd: String? = "add"`.
    ///
    /// There is no default on purpose: `static let cmd = "add"` declares a `String`, which is not
    /// this requirement, and a default would silently route the action by topic alone. Without one
    /// the compiler reports the mistake ("type 'Add' does not conform to protocol 'HemeraPattern'",
    /// "candidate has non-matching type 'String'").
    static var cmd: String? { get }
    /// Other fixed routing keys: declare them with their type,
    /// `static let routingKeys: [String: JSONValue] = ["version": 2]` (without it Swift infers
    /// another dictionary type and the empty default applies).
    static var routingKeys: [String: JSONValue] { get }
}

extension HemeraEvent {
    /// No routing keys besides `topic` and `cmd`.
    public static var routingKeys: [String: JSONValue] { [:] }

    /// Every fixed key: `topic`, `cmd` and ``routingKeys``.
    public static var fixedKeys: [String: JSONValue] {
        var keys = routingKeys
        keys["topic"] = .string(topic)
        if let cmd { keys["cmd"] = .string(cmd) }
        return keys
    }
}

/// The "named handler": a typed pattern, its validation (through the pattern type) and its
/// implementation in one type, registered with ``Hemera/add(_:options:)``.
///
/// ```swift
/// struct AddAction: HemeraAction {
///     func handle(_ request: Add, context: HemeraContext) async throws -> Int { request.a + request.b }
/// }
/// try hemera.add(AddAction())
/// ```
public protocol HemeraAction: Sendable {
    associatedtype Request: HemeraPattern
    func handle(_ request: Request, context: HemeraContext) async throws -> Request.Reply
}

/// Sends the replies of a streaming handler, each a full reply envelope on the caller's inbox.
public struct HemeraReplyWriter<Reply: Encodable & Sendable>: Sendable {
    let hemera: Hemera
    let context: HemeraContext

    /// Sends one reply.
    public func send(_ value: Reply) async throws {
        let bytes = try encodeResult(value)
        try await hemera.sendReply(ServerReply(body: .encoded(bytes), error: nil), context: context)
    }
}

func encodeResult<R: Encodable>(_ value: R) throws -> [UInt8] {
    // Common primitive results skip the Codable machinery (type identity, no dynamic casts).
    // Each `unsafeBitCast` is guarded by `R.self ==` the type cast to: the value's own type.
    guard isPrimitiveResult(R.self) else {
        // A flat struct (strings, numbers, Booleans, optionals) straight into bytes; anything
        // else through the encoder. (No primitive writer is made for it: one allocation less.)
        let flat = FlatPatternEncoder.reusable(capacity: 128)
        defer { flat.finish() }
        flat.collectsParts = false
        flat.writer.raw("{")
        do {
            try value.encode(to: flat)
            if !flat.failed {
                flat.writer.raw("}")
                return flat.writer.bytes
            }
        } catch {}  // unsupported by the flat path: the encoder below decides (and reports errors)
        return try HemeraJSONEncoder().encode(value)
    }
    var writer = JSONWriter(capacity: 24)
    if R.self == Int.self {
        writer.integer(Int64(unsafeBitCast(value, to: Int.self)))
    } else if R.self == String.self {
        writer.string(unsafeBitCast(value, to: String.self))
    } else if R.self == Double.self {
        writer.double(unsafeBitCast(value, to: Double.self))
    } else if R.self == Bool.self {
        unsafeBitCast(value, to: Bool.self) ? writer.raw("true") : writer.raw("false")
    } else if R.self == Int64.self {
        writer.integer(unsafeBitCast(value, to: Int64.self))
    } else if R.self == JSONValue.self {
        writer.value(value as! JSONValue)
    }
    return writer.bytes
}

/// The result types ``encodeResult(_:)`` writes itself.
@inline(__always)
private func isPrimitiveResult<R>(_: R.Type) -> Bool {
    R.self == Int.self || R.self == String.self || R.self == Double.self || R.self == Bool.self
        || R.self == Int64.self || R.self == JSONValue.self
}

extension HemeraValidatable {
    static var ruleSchemas: JSONValue {
        var fields: [String: JSONValue] = [:]
        for rule in rules {
            var list = fields[rule.field]?.arrayValue ?? []
            list.append(rule.schema)
            fields[rule.field] = .array(list)
        }
        return .object(fields)
    }
}

func validateTyped<P>(_ value: P) throws(ValidationFailure) {
    if let validatable = value as? any HemeraValidatable {
        try validatable.runValidation()
    }
}
