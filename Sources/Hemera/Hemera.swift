@_exported public import HemeraJSON
public import Logging
internal import HemeraLocks

/// How a service picks among several matching patterns.
public enum MatchingMode: Sendable {
    /// The pattern with the most keys wins; on a tie, the most recently added (Hemera's `depth`).
    case depth
    /// The first added matching pattern wins (Hemera's `insertion`).
    case insertion
}

/// Settings of a Hemera instance.
public struct HemeraOptions: Sendable {
    /// This service's name, sent as `app` in error hops.
    public var app: String
    public var matching: MatchingMode
    /// Default timeout of a call (Hemera's 2000 ms).
    public var timeout: Duration
    /// Send `stack` in error replies (off by default).
    public var includeStackTraces: Bool
    public var logger: Logger
    public var clientInterceptors: [any HemeraClientInterceptor]
    public var serverInterceptors: [any HemeraServerInterceptor]
    /// Start handlers on the transport's delivery thread (`Task.immediate`) instead of Swift's
    /// global executor. Off by default.
    ///
    /// The NATS client delivers the messages of one subscription (one topic) one after the other on
    /// one thread. When handlers start there, a handler runs on that thread until its first
    /// suspension, so a handler that does synchronous work before its first `await` holds every
    /// other request of its topic: measured, four concurrent calls to a handler that blocks for
    /// 200 ms took 0.80 s, against 0.40 s with the default (two cores). With the default, each
    /// request's handler starts as a task on the global executor and the delivery thread goes
    /// straight back to the next message, for one thread hop per request (docs/performance.md,
    /// "Where handlers start", has the lone-call latency of both).
    ///
    /// Turn it on only for services whose handlers never block and that answer one call at a time
    /// (a quick handler then answers with no thread hop).
    public var startsHandlersOnDeliveryThread: Bool = false
    /// Retries of calls marked idempotent (`idempotent$: true`, ``HemeraIdempotentPattern``);
    /// `nil` turns retries off. Calls not marked idempotent are never retried.
    public var retryPolicy: RetryPolicy? = RetryPolicy()
    /// Send the call's remaining time as the `Hemera-Timeout` header, so the service skips work
    /// whose caller has given up and nested acts stay within it.
    public var propagatesDeadline: Bool = true
    /// How many requests this instance handles at once (running, or waiting for an action's
    /// ``AddOptions/concurrencyLimit``), over all its actions; a request beyond it is answered at
    /// once with `OverloadedError` (code `E_OVERLOADED`) and its handler does not run. `nil` removes
    /// the bound.
    ///
    /// Each request in flight holds a task and its message (about 9 KiB with a small payload), so
    /// the default of 5,000 keeps a flood of slow requests near 45 MiB instead of growing without
    /// bound, and answers the excess at once instead of letting their callers time out.
    public var maxConcurrentRequests: Int? = 5_000
    /// The instance's name, version and description in the NATS services API (`$SRV.PING`,
    /// `$SRV.INFO`, `$SRV.STATS`), answered once it has actions.
    public var service = HemeraServiceOptions()
    /// Where metrics and spans go (see ``HemeraObservability``); by default what the process
    /// bootstrapped before the instance was created, else nothing, at no cost.
    public var observability = HemeraObservability()

    public init(
        app: String = "hemera-swift",
        matching: MatchingMode = .depth,
        timeout: Duration = .milliseconds(2000),
        includeStackTraces: Bool = false,
        logger: Logger = Logger(label: "hemera"),
        clientInterceptors: [any HemeraClientInterceptor] = [],
        serverInterceptors: [any HemeraServerInterceptor] = []
    ) {
        self.app = app
        self.matching = matching
        self.timeout = timeout
        self.includeStackTraces = includeStackTraces
        self.logger = logger
        self.clientInterceptors = clientInterceptors
        self.serverInterceptors = serverInterceptors
    }
}

/// Options of one registration.
public struct AddOptions: Sendable {
    /// Queue group; `nil` means `queue.<topic>`. Ignored when ``pubsub``.
    public var queue: String?
    /// Broadcast: every instance gets every message (no queue group).
    public var pubsub: Bool
    /// Remove the action after this many messages.
    public var maxMessages: Int?
    /// How many requests of this action run at once (unlimited when `nil`).
    public var concurrencyLimit: Int?
    /// With a ``concurrencyLimit``: how many requests may wait for a slot; beyond it a request is
    /// answered at once with `OverloadedError` (code `E_OVERLOADED`). `nil` queues up to the
    /// instance's bound (``HemeraOptions/maxConcurrentRequests``).
    public var maxQueued: Int?
    /// Strict types or Joi-like coercion of numeric strings.
    public var validation: ValidationMode
    public var middleware: [HemeraMiddleware]
    /// Accept a pattern that another registration of this instance already uses; the newer one
    /// then wins on a tie (``MatchingMode/depth``). Off by default: `add` throws
    /// `PatternAlreadyInUse` (``HemeraError/Name/patternAlreadyInUse``), as Hemera does.
    public var allowsDuplicatePattern: Bool = false

    public init(
        queue: String? = nil,
        pubsub: Bool = false,
        maxMessages: Int? = nil,
        concurrencyLimit: Int? = nil,
        validation: ValidationMode = .strict,
        middleware: [HemeraMiddleware] = []
    ) {
        self.queue = queue
        self.pubsub = pubsub
        self.maxMessages = maxMessages
        self.concurrencyLimit = concurrencyLimit
        self.validation = validation
        self.middleware = middleware
    }
}

/// A registered action as listed by ``Hemera/actions``.
public struct HemeraActionInfo: Sendable {
    /// The registered keys (regular expressions shown as `/source/`).
    public var pattern: JSONValue
    /// Field rules when known (typed actions with ``HemeraValidatable``), else `{}`.
    public var schema: JSONValue
    /// The JSON Schema (draft 2020-12) of the action's request (see
    /// ``HemeraPattern/requestSchema``), as published in its `$SRV.INFO` endpoint metadata.
    public var requestSchema: JSONValue
    public var handle: HemeraActionHandle
}

/// Identifies one registration; pass it to `Hemera.remove(_:)`.
public struct HemeraActionHandle: Sendable, Hashable {
    let id: Int
}

/// `nonisolated(nonsending)`: it runs on its caller's executor (a handler worker's, on the global
/// executor) instead of switching to the generic executor on entry. With the same on `runPlain` and
/// `PlainJob.run`: 92.2k -> 89.3k instructions and 19.7 -> 17.9 allocations per act (callgrind,
/// 256 in flight): fewer `swift_task_switch` calls, and the closures need no thunk of their own.
typealias PreparedHandler = nonisolated(nonsending) @Sendable (HemeraContext) async throws -> ServerReply.Body?

/// A request's pattern as received: its tree (matching, untyped handlers, validation messages)
/// and, when known, where its bytes are in the message (typed handlers decode from them).
struct ReceivedPattern: Sendable {
    let value: JSONValue
    let payload: [UInt8]
    let range: Range<Int>?
}

/// One registration. A class: every request copies its action out of the routing table (under
/// the lock, then into the handler's task), and a reference is one retain where this struct of ten
/// members (closures, arrays, JSON values) was a dozen.
final class RegisteredAction: Sendable {
    struct Matcher: Sendable {
        enum Kind: Sendable {
            case equals(JSONValue)
            case regex(RegexMatcher)
        }
        let key: String
        let kind: Kind
    }

    let id: Int
    let matchers: [Matcher]
    let cmd: String?
    let info: JSONValue
    let schema: JSONValue
    let subKey: SubscriptionKey
    let maxMessages: Int?
    let prepare: @Sendable (ReceivedPattern, Hemera) throws(ValidationFailure) -> PreparedHandler
    let middleware: [HemeraMiddleware]
    let limiter: ConcurrencyLimiter?
    /// The action as an ADR-32 endpoint: its `$SRV.INFO` entry and `$SRV.STATS` counters.
    let endpoint: ServiceEndpoint

    init(
        id: Int,
        matchers: [Matcher],
        cmd: String?,
        info: JSONValue,
        schema: JSONValue,
        subKey: SubscriptionKey,
        maxMessages: Int?,
        prepare: @escaping @Sendable (ReceivedPattern, Hemera) throws(ValidationFailure) -> PreparedHandler,
        middleware: [HemeraMiddleware],
        limiter: ConcurrencyLimiter?,
        endpoint: ServiceEndpoint
    ) {
        self.id = id
        self.matchers = matchers
        self.cmd = cmd
        self.info = info
        self.schema = schema
        self.subKey = subKey
        self.maxMessages = maxMessages
        self.prepare = prepare
        self.middleware = middleware
        self.limiter = limiter
        self.endpoint = endpoint
    }

    @inline(__always) func matches(_ members: [String: JSONValue]) -> Bool {
        for matcher in matchers {
            guard let value = members[matcher.key] else { return false }
            switch matcher.kind {
            case .equals(let expected): if !patternValuesEqual(expected, value) { return false }
            case .regex(let regex): if !regex.matches(value) { return false }
            }
        }
        return true
    }

    func precedes(_ other: RegisteredAction, mode: MatchingMode) -> Bool {
        switch mode {
        case .insertion: return id < other.id
        case .depth:
            return matchers.count != other.matchers.count ? matchers.count > other.matchers.count : id > other.id
        }
    }
}

struct SubscriptionKey: Hashable, Sendable {
    let topic: String
    /// `nil` for a pubsub (broadcast) subscription.
    let queue: String?
}

/// The actions of one subscription, indexed by their `cmd` string.
struct Router {
    var subscription: (any HemeraTransportSubscription)?
    var byCmd: [String: [RegisteredAction]] = [:]
    var others: [RegisteredAction] = []
    var counts: [Int: Int] = [:]

    var isEmpty: Bool { byCmd.isEmpty && others.isEmpty }

    mutating func insert(_ action: RegisteredAction, mode: MatchingMode) {
        func insertSorted(_ list: inout [RegisteredAction]) {
            let index = list.firstIndex { action.precedes($0, mode: mode) } ?? list.endIndex
            list.insert(action, at: index)
        }
        if let cmd = action.cmd {
            insertSorted(&byCmd[cmd, default: []])
        } else {
            insertSorted(&others)
        }
    }

    mutating func remove(id: Int) -> Bool {
        var removed = false
        for (cmd, list) in byCmd where list.contains(where: { $0.id == id }) {
            let rest = list.filter { $0.id != id }
            byCmd[cmd] = rest.isEmpty ? nil : rest
            removed = true
        }
        if let index = others.firstIndex(where: { $0.id == id }) {
            others.remove(at: index)
            removed = true
        }
        counts[id] = nil
        return removed
    }

    func match(_ members: [String: JSONValue], mode: MatchingMode) -> RegisteredAction? {
        var best: RegisteredAction?
        if case .string(let cmd)? = members["cmd"], let list = byCmd[cmd] {
            best = list.first { $0.matches(members) }
        }
        if let other = others.first(where: { $0.matches(members) }) {
            if best == nil || other.precedes(best!, mode: mode) { best = other }
        }
        return best
    }

    var all: [RegisteredAction] { (byCmd.values.flatMap { $0 } + others).sorted { $0.id < $1.id } }
}

/// Limits how many requests of one action run at once.
final class ConcurrencyLimiter: Sendable {
    private struct State {
        var running = 0
        var waiters: [CheckedContinuation<Bool, Never>] = []
    }
    private let limit: Int
    private let maxQueued: Int?
    private let state = PthreadLock(State())

    init(limit: Int, maxQueued: Int? = nil) {
        self.limit = max(1, limit)
        self.maxQueued = maxQueued.map { max(0, $0) }
    }

    /// Takes a slot, waiting in line if needed; `false` (nothing taken) when the line is full.
    func acquire() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            enum Decision { case admitted, refused, queued }
            let decision = state.withLock { state -> Decision in
                if state.running < limit {
                    state.running += 1
                    return .admitted
                }
                if let maxQueued, state.waiters.count >= maxQueued { return .refused }
                state.waiters.append(continuation)
                return .queued
            }
            switch decision {
            case .admitted: continuation.resume(returning: true)
            case .refused: continuation.resume(returning: false)
            case .queued: break  // `release` resumes it with `true`, handing over its slot
            }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.waiters.isEmpty {
                state.running -= 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume(returning: true)
    }
}

/// A Hemera instance: registers actions with `add` and calls patterns with `act`, over NATS or the
/// in-memory transport.
///
/// ```swift
/// try await withHemera(transport: InMemoryTransport()) { hemera in
///     try hemera.add("topic:math,cmd:add") { pattern, _ in
///         .integer((pattern["a"]?.integerValue ?? 0) + (pattern["b"]?.integerValue ?? 0))
///     }
///     let sum = try await hemera.act(["topic": "math", "cmd": "add", "a": 1, "b": 2])   // 3
/// }
/// ```
public final class Hemera: Sendable {
    struct State {
        var routers: [SubscriptionKey: Router] = [:]
        var nextID = 0
        var inFlight = 0
        var idleWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
        var closed = false
        /// The reply subjects of the requests in flight, so a close whose grace period ran out
        /// can answer their callers.
        var runningReplies = RunningReplies()
    }

    /// The reply subjects of the requests in flight, in numbered slots: a request keeps its slot
    /// number (`HemeraContext.replySlot`) and gives it back when it ends, so neither end hashes
    /// the reply subject (a dictionary keyed by the subject did both, about 1k instructions per
    /// request). A slot number from before a `takeAll` is stale: its epoch no longer matches.
    struct RunningReplies {
        private var subjects: [String?] = []
        private var free: [Int] = []
        private var epoch = 0

        /// Keeps `subject`; the returned slot gives it back.
        mutating func insert(_ subject: String) -> ReplySlot {
            if let index = free.popLast() {
                subjects[index] = subject
                return ReplySlot(index: index, epoch: epoch)
            }
            subjects.append(subject)
            return ReplySlot(index: subjects.count - 1, epoch: epoch)
        }

        /// Gives a slot back (nothing for a stale one).
        mutating func remove(_ slot: ReplySlot) {
            guard slot.epoch == epoch, slot.index >= 0, slot.index < subjects.count, subjects[slot.index] != nil
            else { return }
            subjects[slot.index] = nil
            free.append(slot.index)
        }

        /// The subjects kept (each once), emptied; slots handed out before are stale afterwards.
        mutating func takeAll() -> [String] {
            var seen = Set<String>()
            let all = subjects.compactMap { $0 }.filter { seen.insert($0).inserted }
            subjects.removeAll()
            free.removeAll()
            epoch &+= 1
            return all
        }
    }

    /// A request's place in ``RunningReplies``.
    struct ReplySlot: Sendable {
        var index: Int
        var epoch: Int
        static let none = ReplySlot(index: -1, epoch: -1)
    }

    /// The transport this instance talks through.
    public let transport: any HemeraTransport
    public let options: HemeraOptions
    let state = PthreadLock(State())
    let ownsTransport: Bool
    /// The transport when it is NATS: calls take its direct path for the deadline header.
    let natsTransport: NATSTransport?
    /// Answers the NATS services API (`$SRV.*`) once the instance has actions.
    let services = ServicesResponder()
    /// Metrics and tracing; `nil` when neither is on (the act and receive paths test only this).
    let observers: Observers?
    /// The recycled tasks plain handlers run on (stopped by ``close(gracePeriod:)``).
    let handlerWorkers = HandlerWorkers()
    var logger: Logger { options.logger }

    /// Creates an instance over `transport`.
    ///
    /// - Parameters:
    ///   - transport: NATS (``NATSTransport``) or ``InMemoryTransport``.
    ///   - options: the instance's settings.
    ///   - closeTransport: whether ``close(gracePeriod:)`` also closes the transport.
    public init(transport: any HemeraTransport, options: HemeraOptions = HemeraOptions(), closeTransport: Bool = false)
    {
        self.transport = transport
        self.options = options
        self.ownsTransport = closeTransport
        self.natsTransport = transport as? NATSTransport
        self.observers = Observers.make(
            options.observability,
            serviceName: options.service.name ?? HemeraServiceOptions.sanitizedName(options.app)
        )
    }

    // MARK: - add

    /// Registers an untyped handler: it receives the request's full pattern and returns the result.
    ///
    /// - Parameters:
    ///   - pattern: routing keys (with `topic`), `$` options (`queue$`, `pubsub$`, `maxMessages$`)
    ///     and regular-expression matchers.
    ///   - options: queue group, broadcast, limits, validation mode, middleware.
    ///   - handler: gets the request's pattern and context, returns the result.
    /// - Throws: ``HemeraError`` for a pattern without a string topic or one already in use
    ///   (`PatternAlreadyInUse`), or a transport error.
    @discardableResult
    public func add(
        _ pattern: Pattern,
        options: AddOptions = AddOptions(),
        handler: @escaping @Sendable (JSONValue, HemeraContext) async throws -> JSONValue
    ) throws -> HemeraActionHandle {
        try register(pattern, options: options, schema: [:]) { received, _ throws(ValidationFailure) in
            let json = received.value
            return { context in .value(try await handler(json, context)) }
        }
    }

    /// Registers a typed handler for the pattern type `P`.
    @discardableResult
    public func add<P: HemeraPattern>(
        _ type: P.Type,
        options: AddOptions = AddOptions(),
        handler: @escaping @Sendable (P, HemeraContext) async throws -> P.Reply
    ) throws -> HemeraActionHandle {
        try Self.checkRuleKeys(of: P.self)
        let mode = options.validation
        // Looked up once, not per request.
        let validates = P.self is any HemeraValidatable.Type
        return try register(
            Pattern(P.fixedKeys),
            options: options,
            schema: Self.schema(of: P.self),
            requestSchema: P.requestSchema(validation: mode)
        ) {
            received,
            _ throws(ValidationFailure) in
            let request = try decodeValidated(P.self, from: received, mode: mode)
            if validates { try validateTyped(request) }
            return { context in .encoded(try encodeResult(try await handler(request, context))) }
        }
    }

    /// Registers a named handler (a ``HemeraAction``).
    @discardableResult
    public func add<A: HemeraAction>(_ action: A, options: AddOptions = AddOptions()) throws -> HemeraActionHandle {
        try add(A.Request.self, options: options) { request, context in
            try await action.handle(request, context: context)
        }
    }

    /// Registers a streaming handler that sends any number of replies through a writer.
    ///
    /// ```swift
    /// try hemera.addStreaming(Count.self) { request, context, writer in
    ///     for i in 1...request.n { try await writer.send(i) }
    /// }
    /// ```
    @discardableResult
    public func addStreaming<P: HemeraPattern>(
        _ type: P.Type,
        options: AddOptions = AddOptions(),
        handler: @escaping @Sendable (P, HemeraContext, HemeraReplyWriter<P.Reply>) async throws -> Void
    ) throws -> HemeraActionHandle {
        try Self.checkRuleKeys(of: P.self)
        let mode = options.validation
        let validates = P.self is any HemeraValidatable.Type
        // A broadcast action answers from every instance: one instance's end marker would end the
        // caller's stream before the others finished.
        let endsStream = !options.pubsub
        return try register(
            Pattern(P.fixedKeys),
            options: options,
            schema: Self.schema(of: P.self),
            requestSchema: P.requestSchema(validation: mode)
        ) {
            received,
            hemera throws(ValidationFailure) in
            let request = try decodeValidated(P.self, from: received, mode: mode)
            if validates { try validateTyped(request) }
            return { context in
                try await handler(request, context, HemeraReplyWriter(hemera: hemera, context: context))
                if endsStream { try hemera.endStream(context: context) }
                return nil
            }
        }
    }

    /// The payload fields (type, required) and declarative rules of `P`, routing keys left out.
    static func schema<P: HemeraEvent>(of type: P.Type) -> JSONValue {
        var fields = SchemaProbe.fields(of: P.self).objectValue ?? [:]
        for key in P.fixedKeys.keys { fields[key] = nil }
        if case .object(let rules)? = (P.self as? any HemeraValidatable.Type)?.ruleSchemas {
            for (field, list) in rules {
                var entry = fields[field]?.objectValue ?? [:]
                entry["rules"] = list
                fields[field] = .object(entry)
            }
        }
        return .object(fields)
    }

    func register(
        _ pattern: Pattern,
        options addOptions: AddOptions,
        schema: JSONValue,
        requestSchema: JSONValue? = nil,
        prepare: @escaping @Sendable (ReceivedPattern, Hemera) throws(ValidationFailure) -> PreparedHandler
    ) throws -> HemeraActionHandle {
        guard let topic = pattern.topic, !topic.isEmpty else {
            throw HemeraError(name: .invalidPattern, message: "A pattern needs a string topic")
        }
        let pubsub = addOptions.pubsub || pattern.options["pubsub"]?.boolValue == true
        let queue = pubsub ? nil : (addOptions.queue ?? pattern.options["queue"]?.stringValue ?? "queue.\(topic)")
        let maxMessages = addOptions.maxMessages ?? pattern.options["maxMessages"]?.integerValue.map { Int($0) }
        var matchers: [RegisteredAction.Matcher] = []
        var info: [String: JSONValue] = [:]
        for (key, value) in pattern.keys where key != "topic" {
            info[key] = value
            if case .object = value { continue }  // object-valued keys never take part in matching
            matchers.append(.init(key: key, kind: .equals(value)))
        }
        for (key, regex) in pattern.regexes {
            matchers.append(.init(key: key, kind: .regex(regex)))
            info[key] = .string("/\(regex.source ?? "regex")/")
        }
        matchers.sort { $0.key < $1.key }
        info["topic"] = .string(topic)
        let subKey = SubscriptionKey(topic: topic, queue: queue)
        let endpoint = ServiceEndpoint(
            pattern: info,
            subject: topic,
            queueGroup: queue,
            observers: observers,
            requestSchema: requestSchema
                ?? RequestSchemaBuilder.schema(
                    fixedKeys: pattern.keys,
                    regexes: pattern.regexes.map { ($0.key, $0.regex.source) }
                )
        )
        try services.startIfNeeded(self)
        return try state.withLock { state throws -> HemeraActionHandle in
            if state.closed { throw HemeraError(name: .closed, message: "Hemera is closed") }
            if !addOptions.allowsDuplicatePattern, state.registration(on: topic, sameAs: matchers) != nil {
                throw HemeraError(
                    name: .patternAlreadyInUse,
                    message: "Pattern is already in use: \(Pattern.method(of: info))",
                    details: .object(info)
                )
            }
            state.nextID += 1
            let action = RegisteredAction(
                id: state.nextID,
                matchers: matchers,
                cmd: pattern.keys["cmd"]?.stringValue,
                info: .object(info),
                schema: schema,
                subKey: subKey,
                maxMessages: maxMessages,
                prepare: prepare,
                middleware: addOptions.middleware,
                limiter: addOptions.concurrencyLimit.map {
                    ConcurrencyLimiter(limit: $0, maxQueued: addOptions.maxQueued)
                },
                endpoint: endpoint
            )
            var router = state.routers[subKey] ?? Router()
            if router.subscription == nil {
                router.subscription = try transport.subscribe(to: topic, queue: queue) { [weak self] message in
                    self?.receive(message, key: subKey)
                }
            }
            router.insert(action, mode: self.options.matching)
            state.routers[subKey] = router
            logger.debug(
                "added \(pattern.description)",
                metadata: ["topic": .string(topic), "queue": .string(queue ?? "(pubsub)")]
            )
            return HemeraActionHandle(id: action.id)
        }
    }

    // MARK: - remove and list

    /// Removes one registration; unsubscribes from its topic when it was the last one there.
    ///
    /// - Returns: whether it was registered.
    @discardableResult
    public func remove(_ handle: HemeraActionHandle) -> Bool {
        let (removed, subscription) = state.withLock { state -> (Bool, (any HemeraTransportSubscription)?) in
            for (key, var router) in state.routers where router.remove(id: handle.id) {
                if router.isEmpty {
                    state.routers[key] = nil
                    return (true, router.subscription)
                }
                state.routers[key] = router
                return (true, nil)
            }
            return (false, nil)
        }
        unsubscribe(subscription)
        return removed
    }

    /// Removes every registration whose pattern has exactly these keys (options ignored).
    ///
    /// - Returns: how many were removed.
    @discardableResult
    public func remove(_ pattern: Pattern) -> Int {
        var target = pattern.keys
        for (key, regex) in pattern.regexes { target[key] = .string("/\(regex.source ?? "regex")/") }
        let handles = actions.filter { $0.pattern == .object(target) }.map(\.handle)
        for handle in handles { remove(handle) }
        return handles.count
    }

    private func unsubscribe(_ subscription: (any HemeraTransportSubscription)?) {
        guard let subscription else { return }
        do { try subscription.unsubscribe() } catch { logger.warning("unsubscribe failed: \(error)") }
    }

    /// The registered actions, oldest first, with their schemas.
    public var actions: [HemeraActionInfo] {
        state.withLock { state in
            state.routers.values.flatMap(\.all).sorted { $0.id < $1.id }.map {
                HemeraActionInfo(
                    pattern: $0.info,
                    schema: $0.schema,
                    requestSchema: $0.endpoint.requestSchema,
                    handle: HemeraActionHandle(id: $0.id)
                )
            }
        }
    }

    // MARK: - close

    /// Closes gracefully: stops taking requests (drains the service subscriptions), waits for the
    /// running handlers and publishes their replies, flushes, then closes the transport if owned.
    ///
    /// - Parameter gracePeriod: how long to wait for running handlers; after it, close goes on
    ///   without them (their replies may then fail).
    public func close(gracePeriod: Duration = .seconds(30)) async {
        services.stop()
        let subscriptions = state.withLock { state -> [any HemeraTransportSubscription] in
            state.closed = true
            let list = state.routers.values.compactMap(\.subscription)
            for key in state.routers.keys { state.routers[key]?.subscription = nil }
            return list
        }
        for subscription in subscriptions {
            do { try await subscription.drain() } catch { logger.warning("drain failed: \(error)") }
        }
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.waitUntilIdle()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: gracePeriod)
                return false
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if !finished {
            logger.warning("closing with \(inFlightCount) handlers still running after \(gracePeriod)")
            // Their callers get a typed error now rather than waiting for their own timeouts (as a
            // gRPC server's hard stop cancels its calls). A reply the handler sends later is dropped.
            let abandoned = state.withLock { $0.runningReplies.takeAll() }
            for replyTo in abandoned {
                replyEarly(
                    TransportMessage(subject: options.app, replyTo: replyTo, payload: []),
                    HemeraError(
                        name: .unavailable,
                        message: "The service closed before the handler finished (grace period \(gracePeriod))",
                        code: "E_SHUTDOWN"
                    )
                )
            }
        }
        state.withLock { $0.routers.removeAll() }
        handlerWorkers.stop()
        do { try await transport.flush(timeout: .seconds(5)) } catch { logger.warning("flush failed: \(error)") }
        if ownsTransport { await transport.close() }
    }

    /// Returns when no request is being handled, or when the task is cancelled.
    func waitUntilIdle() async {
        let id = state.withLock { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.inFlight == 0 || Task.isCancelled { return true }
                    state.idleWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.idleWaiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Waits until the registrations made so far reached the server (a flush), so that calls from
    /// other connections find them.
    public func ready(timeout: Duration = .seconds(5)) async throws {
        try await transport.flush(timeout: timeout)
    }

    /// The number of requests being handled right now.
    public var inFlightCount: Int { state.withLock { $0.inFlight } }

    private func finishRequest(_ slot: ReplySlot) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.inFlight -= 1
            state.runningReplies.remove(slot)
            guard state.inFlight == 0 else { return [] }
            defer { state.idleWaiters.removeAll() }
            return Array(state.idleWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// Runs `body` with a Hemera instance over `transport` and closes it gracefully afterwards,
/// also when `body` throws.
public func withHemera<Result: Sendable>(
    transport: any HemeraTransport,
    options: HemeraOptions = HemeraOptions(),
    _ body: (Hemera) async throws -> Result
) async throws -> Result {
    let hemera = Hemera(transport: transport, options: options)
    do {
        let result = try await body(hemera)
        await hemera.close()
        return result
    } catch {
        await hemera.close()
        throw error
    }
}

// MARK: - Service side

extension Hemera {
    /// Runs on the transport's delivery thread: parses, matches and validates, then hops to a task
    /// only to run the handler.
    func receive(_ message: TransportMessage, key: SubscriptionKey) {
        let parsed: EnvelopeParser.RequestEnvelope?
        do {
            parsed = try EnvelopeParser.parseRequestEnvelope(message.payload)
        } catch {
            logger.debug("unparsable message on \(message.subject): \(error)")
            replyEarly(message, HemeraError(name: .parse, message: "Invalid JSON: \(error)", cause: error))
            return
        }
        guard let envelope = parsed else {
            replyEarly(message, HemeraError(name: .invalidRequest, message: "A request must be a JSON object"))
            return
        }
        guard case .object(let patternMembers)? = envelope.patternValue else {
            replyEarly(message, HemeraError(name: .invalidRequest, message: "A request needs a `pattern` object"))
            return
        }
        guard let requestRange = envelope.request else {
            replyEarly(message, HemeraError(name: .invalidRequest, message: "A request needs a `request` object"))
            return
        }
        let pattern = JSONValue.object(patternMembers)
        // Made as a `var` to take its reply slot below, then frozen as a `let`: the escaping
        // closures further down capture the `let`, and a captured `var` is a heap box (an
        // allocation per request).
        var draft = HemeraContext(
            pattern: pattern,
            meta: envelope.meta?.objectValue ?? [:],
            delegate: envelope.delegate?.objectValue ?? [:],
            subject: message.subject,
            replyTo: message.replyTo,
            hemera: self,
            payload: message.payload,
            rawTrace: envelope.trace,
            rawRequest: requestRange,
            deadline: Self.deadline(from: message),
            requestHeaderStorage: message.headerStorage
        )

        let mode = options.matching
        let limit = options.maxConcurrentRequests ?? .max
        var admitted = true
        var slot = ReplySlot.none
        let (action, unsubscribeNow) = state.withLock {
            state -> (RegisteredAction?, (any HemeraTransportSubscription)?) in
            // The instance's bound: refused before anything is counted or matched.
            if state.inFlight >= limit {
                admitted = false
                return (nil, nil)
            }
            // Counted in flight here, under the same lock (`finishRequest` ends it).
            state.inFlight += 1
            if let replyTo = message.replyTo { slot = state.runningReplies.insert(replyTo) }
            // Read, not matched in place: a mutating call through `routers[key]?` runs the
            // dictionary's `_modify` coroutines, whose frames are three `malloc`s per request.
            guard var router = state.routers[key], let action = router.match(patternMembers, mode: mode) else {
                return (nil, nil)
            }
            guard let maxMessages = action.maxMessages else { return (action, nil) }
            let count = router.counts[action.id, default: 0] + 1
            router.counts[action.id] = count
            if count >= maxMessages {
                _ = router.remove(id: action.id)
                if router.isEmpty {
                    state.routers[key] = nil
                    return (action, router.subscription)
                }
            }
            state.routers[key] = router
            return (action, nil)
        }
        draft.replySlot = slot
        let context = draft
        if !admitted {
            replyEarly(
                message,
                HemeraError(
                    name: .overloaded,
                    message: "Overloaded: \(limit) requests are in flight in this instance",
                    code: "E_OVERLOADED"
                )
            )
            return
        }
        unsubscribe(unsubscribeNow)

        // The handler and the failure as two optionals, not a `Result`: a closure stored in a
        // generic enum's payload is reabstracted (a thunk's context allocated going in, and
        // another coming out), two allocations per request. The general path below makes its
        // `Result` only when it is taken.
        var handler: PreparedHandler?
        var failure: HemeraError?
        if let action {
            do throws(ValidationFailure) {
                let received = ReceivedPattern(value: pattern, payload: message.payload, range: envelope.pattern)
                handler = try action.prepare(received, self)
            } catch {
                failure = error.hemeraError
            }
        } else {
            failure = HemeraError(name: .patternNotFound, message: "No action found for this pattern")
        }
        // By default the handler starts as a task on the global executor, so this delivery thread
        // goes back to the next message of the topic at once: a handler that blocks never holds
        // the others. With `startsHandlersOnDeliveryThread`, `Task.immediate` runs it on this
        // thread up to its first suspension (no thread hop, but the topic waits meanwhile).
        //
        // With nothing configured around the handler (no server interceptors, middleware or
        // concurrency limit) and a request that matched and validated, the task runs
        // `runPlain`: the same steps as `run` with nothing in between, in smaller async frames
        // (fewer task-allocator slabs per request) and with a synchronous reply.
        if let handler, let action, action.middleware.isEmpty, action.limiter == nil,
            options.serverInterceptors.isEmpty, observers == nil
        {
            if options.startsHandlersOnDeliveryThread {
                Task.immediate { await self.runPlain(handler, action: action, context: context) }
            } else {
                // A recycled task (`HandlerWorkers`): no task, closure and frames made per request.
                handlerWorkers.submit(PlainJob(hemera: self, handler: handler, action: action, context: context))
            }
            return
        }
        let prepared: Result<PreparedHandler, HemeraError> =
            if let handler { .success(handler) } else { .failure(failure ?? HemeraError(name: .patternNotFound, message: "No action found for this pattern")) }
        let observation = observers?.startRequest(message, context: context, action: action)
        if options.startsHandlersOnDeliveryThread {
            Task.immediate {
                defer { self.finishRequest(context.replySlot) }
                await self.run(prepared, action: action, context: context, observation: observation)
            }
        } else {
            Task {
                defer { self.finishRequest(context.replySlot) }
                await self.run(prepared, action: action, context: context, observation: observation)
            }
        }
    }

    /// The caller's deadline from the `Hemera-Timeout` header (remaining milliseconds), if any.
    static func deadline(from message: TransportMessage) -> ContinuousClock.Instant? {
        guard let text = message.header(HemeraHeaders.timeout),
            let milliseconds = Int64(text), milliseconds >= 0
        else { return nil }
        return .now + .milliseconds(min(milliseconds, 86_400_000))
    }

    /// ``run(_:action:context:)`` for a request whose handler is all there is to run: no server
    /// interceptors, no middleware, no concurrency limit (the caller checked). The same order of
    /// steps, the same errors and replies.
    ///
    /// Only what lives across the `await` is in this async frame; the steps before and after are
    /// synchronous functions of their own. A service task is new for every request, so each 984-byte
    /// slab its frames need is a `malloc`: `run`'s frame alone is 3,296 bytes.
    nonisolated(nonsending) func runPlain(
        _ handler: @escaping PreparedHandler,
        action: RegisteredAction,
        context: HemeraContext
    ) async {
        let outcome: Result<ServerReply.Body?, any Error>
        if let expired = Self.deadlineExpired(context) {
            outcome = .failure(expired)
        } else {
            do {
                outcome = .success(try await HemeraContext.$current.withValue(context) { try await handler(context) })
            } catch {
                outcome = .failure(error)
            }
        }
        finishPlain(outcome, action: action, context: context)
    }

    /// The error of a request whose caller's deadline already passed, if it did.
    @inline(never)
    static func deadlineExpired(_ context: HemeraContext) -> HemeraError? {
        guard let deadline = context.deadline, deadline <= .now else { return nil }
        return HemeraError(name: .deadlineExceeded, message: "The caller's deadline passed before the handler started")
    }

    /// Replies to a request run by ``runPlain(_:context:)`` and ends it.
    @inline(never)
    private func finishPlain(
        _ outcome: Result<ServerReply.Body?, any Error>,
        action: RegisteredAction,
        context: HemeraContext
    ) {
        defer { finishRequest(context.replySlot) }
        let reply: ServerReply
        switch outcome {
        case .success(let body?): reply = ServerReply(body: body, error: nil)
        case .success(nil):
            action.endpoint.stats.record(since: context.receivedAt, error: nil)
            return  // a streaming handler sent its replies itself
        case .failure(let error): reply = ServerReply(body: .encoded(nil), error: handlerError(error, context: context))
        }
        action.endpoint.stats.record(since: context.receivedAt, error: reply.error)
        do {
            try publishReply(reply, context: context)
        } catch {
            replyFailed(error, context: context)
        }
    }

    private func run(
        _ prepared: Result<PreparedHandler, HemeraError>,
        action: RegisteredAction?,
        context: HemeraContext,
        observation: RequestObservation?
    ) async {
        let interceptors = options.serverInterceptors
        var reply: ServerReply
        do {
            for interceptor in interceptors { try await interceptor.onRequest(context) }
            let handler = try prepared.get()
            for interceptor in interceptors { try await interceptor.preHandler(context) }
            var holdsSlot = false
            if let limiter = action?.limiter {
                guard await limiter.acquire() else {
                    throw HemeraError(
                        name: .overloaded,
                        message: "Overloaded: too many requests of \(context.subject) running and queued",
                        code: "E_OVERLOADED"
                    )
                }
                holdsSlot = true
            }
            defer { if holdsSlot { action?.limiter?.release() } }
            if let expired = Self.deadlineExpired(context) { throw expired }
            let body = try await HemeraContext.$current.withValue(context) {
                if let observation {
                    return try await observation.run {
                        try await self.invoke(handler, middleware: action?.middleware ?? [], context: context)
                    }
                }
                return try await self.invoke(handler, middleware: action?.middleware ?? [], context: context)
            }
            guard let body else {
                action?.endpoint.stats.record(since: context.receivedAt, error: nil)
                observation?.finish(since: context.receivedAt, error: nil)
                return  // a streaming handler sent its replies itself
            }
            reply = ServerReply(body: body, error: nil)
        } catch {
            let hemeraError = handlerError(error, context: context)
            for interceptor in interceptors { await interceptor.onError(hemeraError, context: context) }
            reply = ServerReply(body: .encoded(nil), error: hemeraError)
        }
        action?.endpoint.stats.record(since: context.receivedAt, error: reply.error)
        observation?.finish(since: context.receivedAt, error: reply.error)
        do {
            try await sendReply(reply, context: context)
        } catch {
            replyFailed(error, context: context)
        }
    }

    /// A reply that could not be published: one too large for the server is answered with a
    /// `PayloadTooLarge` error; any other failure is logged.
    private func replyFailed(_ error: any Error, context: HemeraContext) {
        if let error = error as? TransportError, error.code == .payloadTooLarge {
            // Tell the caller instead of letting it wait for its timeout.
            // A bare error envelope: the request's meta may be what made the reply too large.
            let tooLarge = HemeraError(
                name: .payloadTooLarge,
                message: "The reply exceeds the server's maximum payload: \(error.message)"
            )
            replyEarly(
                TransportMessage(subject: context.subject, replyTo: context.replyTo, payload: []),
                tooLarge
            )
        } else {
            logger.error("reply to \(context.request.method) failed: \(error)")
        }
    }

    private func invoke(_ handler: @escaping PreparedHandler, middleware: [HemeraMiddleware], context: HemeraContext)
        async throws -> ServerReply.Body?
    {
        if middleware.isEmpty { return try await handler(context) }
        let result = PthreadLock<ServerReply.Body?>(nil)
        var next: @Sendable () async throws -> Void = {
            let body = try await handler(context)
            result.withLock { $0 = body }
        }
        for layer in middleware.reversed() {
            let inner = next
            next = { try await layer.body(context, inner) }
        }
        try await next()
        return result.withLock { $0 }
    }

    /// Publishes one reply envelope to the request's inbox (nothing for a pubsub request).
    func sendReply(_ reply: ServerReply, context: HemeraContext) async throws {
        let interceptors = options.serverInterceptors
        if interceptors.isEmpty {
            try publishReply(reply, context: context)
            return
        }
        var reply = withHop(reply, context: context)
        for interceptor in interceptors {
            do {
                try await interceptor.onSend(&reply, context: context)
            } catch {
                reply = ServerReply(body: .encoded(nil), error: handlerError(error, context: context))
            }
        }
        guard let replyTo = context.replyTo else { return }
        try transport.publish(to: replyTo, payload: encodeReply(reply, context: context), replyTo: nil)
        for interceptor in interceptors { await interceptor.onResponse(reply, context: context) }
    }

    /// ``sendReply(_:context:)`` without server interceptors: nothing to await.
    func publishReply(_ reply: ServerReply, context: HemeraContext) throws {
        guard let replyTo = context.replyTo else { return }
        let reply = withHop(reply, context: context)
        if let natsTransport {
            // Straight from the writer into the connection's write buffer: no array of its own.
            let writer = writeReply(reply, context: context)
            try writer.withUnsafeBytes { bytes in try natsTransport.publish(to: replyTo, bytes: bytes) }
            return
        }
        try transport.publish(to: replyTo, payload: encodeReply(reply, context: context), replyTo: nil)
    }

    /// An error reply with this service's hop appended; any other reply as it is.
    func withHop(_ reply: ServerReply, context: HemeraContext) -> ServerReply {
        guard var error = reply.error else { return reply }
        error.hops.append(
            .init(
                service: context.trace.service.isEmpty ? context.subject : context.trace.service,
                method: context.request.method,
                app: options.app,
                ts: epochMilliseconds()
            )
        )
        var reply = reply
        reply.error = error
        return reply
    }

    func encodeReply(_ reply: ServerReply, context: HemeraContext) -> [UInt8] {
        writeReply(reply, context: context).bytes
    }

    /// The reply envelope of ``encodeReply(_:context:)``, in its writer.
    func writeReply(_ reply: ServerReply, context: HemeraContext) -> JSONWriter {
        // Sized for the whole reply (the echoed trace and request, the encoded result), so large
        // results are not copied while it grows.
        var resultSize = 0
        if case .encoded(let bytes?) = reply.body { resultSize = bytes.count }
        var writer = JSONWriter(
            capacity: 256 + resultSize + (context.rawTrace?.count ?? 0) + (context.rawRequest?.count ?? 0)
        )
        writer.raw("{\"meta\":")
        writer.object(context.meta)
        writer.raw(",\"trace\":")
        if let range = context.rawTrace {
            writer.raw(context.payload[range])
        } else {
            writer.raw("{}")
        }
        writer.raw(",\"request\":")
        if let range = context.rawRequest {
            writer.raw(context.payload[range])
        } else {
            writer.raw("{}")
        }
        if let error = reply.error {
            writer.raw(",\"result\":null,\"error\":")
            writer.value(error.wire(includeStack: options.includeStackTraces))
        } else {
            switch reply.body {
            case .encoded(let bytes?):
                writer.raw(",\"result\":")
                writer.raw(bytes)
            case .encoded(nil): break
            case .value(let value):
                writer.raw(",\"result\":")
                writer.value(value)
            }
            writer.raw(",\"error\":null")
        }
        writer.raw("}")
        return writer
    }

    /// Answers a message that never reached matching (bad JSON, not a request).
    private func replyEarly(_ message: TransportMessage, _ error: HemeraError) {
        guard let replyTo = message.replyTo else { return }
        var error = error
        error.hops.append(.init(service: message.subject, method: "", app: options.app, ts: epochMilliseconds()))
        var writer = JSONWriter()
        writer.raw("{\"meta\":{},\"result\":null,\"error\":")
        writer.value(error.wire(includeStack: false))
        writer.raw("}")
        do {
            try transport.publish(to: replyTo, payload: writer.bytes, replyTo: nil)
        } catch {
            logger.error("error reply to \(message.subject) failed: \(error)")
        }
    }
}
