public import HemeraJSON

extension Hemera {
    /// Calls a pattern and returns the reply's `result` (`null` when absent).
    ///
    /// Control options in the pattern: `timeout$` (ms), `pubsub$` (publish, no reply: returns
    /// `null` at once). Inside a handler, `meta` and the trace are inherited from the request being
    /// handled.
    ///
    /// - Throws: ``HemeraError``: the service's error, or `TimeoutError`, `NoRespondersError`
    ///   (at once, when nobody subscribes to the topic), `InvalidPatternError`.
    @discardableResult
    public func act(
        _ pattern: Pattern,
        meta: [String: JSONValue] = [:],
        delegate: [String: JSONValue] = [:],
        timeout: Duration? = nil
    ) async throws -> JSONValue {
        if let observers {
            return try await observers.observeAct(topic: pattern.topic ?? "", cmd: pattern.keys["cmd"]?.stringValue) {
                try await self.actUnobserved(pattern, meta: meta, delegate: delegate, timeout: timeout)
            }
        }
        return try await actUnobserved(pattern, meta: meta, delegate: delegate, timeout: timeout)
    }

    /// ``act(_:meta:delegate:timeout:)`` without metrics and spans.
    func actUnobserved(
        _ pattern: Pattern,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        timeout: Duration?
    ) async throws -> JSONValue {
        let request = try makeRequest(pattern, meta: meta, delegate: delegate, timeout: timeout)
        return try await intercepted(request).result
    }

    /// Calls a typed pattern and decodes its reply.
    ///
    /// ```swift
    /// let sum: Int = try await hemera.act(Add(a: 1, b: 2))
    /// ```
    @discardableResult
    public func act<P: HemeraPattern>(
        _ pattern: P,
        meta: [String: JSONValue] = [:],
        delegate: [String: JSONValue] = [:],
        timeout: Duration? = nil
    ) async throws -> P.Reply {
        if let observers {
            return try await observers.observeAct(topic: P.topic, cmd: P.cmd) {
                try await self.actUnobserved(pattern, meta: meta, delegate: delegate, timeout: timeout)
            }
        }
        return try await actUnobserved(pattern, meta: meta, delegate: delegate, timeout: timeout)
    }

    /// ``act(_:meta:delegate:timeout:)`` of a typed pattern without metrics and spans. Inlined into
    /// `act`, as are the async functions it calls down to the NATS connection: each async call
    /// allocates its frame from the task (issue 12).
    @inline(__always)
    func actUnobserved<P: HemeraPattern>(
        _ pattern: P,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        timeout: Duration?
    ) async throws -> P.Reply {
        // The fixed part is looked up once (a lock and a dictionary look-up) and used for both.
        if options.clientInterceptors.isEmpty, case let fixed = EncodedTypedPattern.fixedPart(of: P.self),
            !fixed.isIdempotent
        {
            // The typed hot path: the envelope written in one pass, the reply decoded in one pass.
            // The task-local context is read once (a look-up and a copy of the struct each time).
            let current = HemeraContext.current
            let callTimeout = timeout ?? options.timeout
            // Flat patterns are written straight into the envelope; others through the encoder.
            if let envelope = flatEnvelope(pattern, fixed: fixed, meta: meta, delegate: delegate, current: current) {
                return try await typedRequest(
                    P.Reply.self,
                    topic: envelope.topic,
                    payload: envelope.payload,
                    timeout: callTimeout,
                    current: current
                )
            }
        }
        return try await actGeneral(pattern, meta: meta, delegate: delegate, timeout: timeout)
    }

    /// The typed act paths but the flat one: patterns the flat encoder cannot write, interceptors,
    /// retried (idempotent) patterns. Not inlined into `act`: an async function allocates from
    /// the task, at its start, every local whose size is known only at run time (generic values,
    /// the standard library's resilient types), on every path or not (issue 12).
    @inline(never)
    func actGeneral<P: HemeraPattern>(
        _ pattern: P,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        timeout: Duration?
    ) async throws -> P.Reply {
        if options.clientInterceptors.isEmpty, case let fixed = EncodedTypedPattern.fixedPart(of: P.self),
            !fixed.isIdempotent
        {
            let current = HemeraContext.current
            let callTimeout = timeout ?? options.timeout
            if let encoded = EncodedTypedPattern(encoding: pattern) {
                let payload = encodeEnvelope(
                    topic: encoded.topic,
                    method: encoded.method,
                    meta: mergedMeta(meta, current: current),
                    delegate: delegate,
                    type: .request,
                    patternSize: encoded.bytes.count,
                    current: current
                ) { writer in writer.raw(encoded.bytes) }
                return try await typedRequest(
                    P.Reply.self,
                    topic: encoded.topic,
                    payload: payload,
                    timeout: callTimeout,
                    current: current
                )
            }
        }
        var untyped = try typedPattern(pattern)
        if P.self is any HemeraIdempotentPattern.Type { untyped.options["idempotent"] = true }
        let result = try await actUnobserved(untyped, meta: meta, delegate: delegate, timeout: timeout)
        return try decodeReply(P.Reply.self, from: result)
    }

    /// A typed request's envelope by the flat path (`nil` when the pattern is not flat). Synchronous
    /// on purpose: the thread's reusable encoder it writes with is given back before the caller
    /// can suspend (and resume on another thread).
    func flatEnvelope<P: HemeraPattern>(
        _ pattern: P,
        fixed: EncodedTypedPattern.FixedPart,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        current: HemeraContext?
    ) -> (payload: [UInt8], topic: String)? {
        guard let started = EncodedTypedPattern.startEnvelope(pattern, fixed: fixed) else { return nil }
        defer { started.encoder.finish() }
        writeEnvelopeRest(
            into: &started.encoder.writer,
            topic: started.topic,
            method: .parts(started.methodParts),
            meta: mergedMeta(meta, current: current),
            delegate: delegate,
            type: .request,
            current: current
        )
        return (started.encoder.writer.bytes, started.topic)
    }

    /// Sends a typed act's finished envelope and decodes its reply. Its own async function, so the
    /// frame that lives across the wait holds only what the wait needs, not `act`'s locals.
    @inline(__always)
    func typedRequest<R: Decodable>(
        _ type: R.Type,
        topic: String,
        payload: [UInt8],
        timeout: Duration,
        current: HemeraContext?
    ) async throws -> R {
        let reply = try await request(topic: topic, payload: payload, timeout: timeout, current: current)
        return try decodeTypedReply(R.self, from: reply.payload)
    }

    /// The caller's `meta` over the meta of the handler it runs in, if any (nested acts inherit it).
    func mergedMeta(_ meta: [String: JSONValue], current: HemeraContext?) -> [String: JSONValue] {
        // Outside a handler, or with nothing to inherit, the caller's meta is the result as it is:
        // no dictionary built and filled again.
        guard let inherited = current?.meta, !inherited.isEmpty else { return meta }
        var merged = inherited
        for (key, value) in meta { merged[key] = value }
        return merged
    }

    /// Decodes a typed reply straight from the reply's bytes: the envelope is skimmed for where
    /// `result` is, and `R` is decoded from that slice, with no `JSONValue` tree in between.
    /// Anything that does not decode that way (and every error) goes through the tree path of
    /// ``decodeReply(_:from:)``, which stays the reference for what decodes and how errors read.
    func decodeTypedReply<R: Decodable>(_ type: R.Type, from payload: [UInt8]) throws -> R {
        let envelope: EnvelopeParser.ReplyEnvelope?
        do {
            envelope = try EnvelopeParser.parseReplyEnvelope(payload)
        } catch {
            throw HemeraError(name: .parse, message: "The reply is not valid JSON: \(error)", cause: error)
        }
        guard let envelope else {
            throw HemeraError(name: .parse, message: "The reply is not a JSON object")
        }
        if let error = envelope.error { throw HemeraError(wire: error) }
        guard let range = envelope.result else { return try decodeReply(R.self, from: .null) }
        // Primitive and dynamic replies: the small tree is the cheaper path.
        if R.self == JSONValue.self || R.self == Int.self || R.self == String.self || R.self == Double.self
            || R.self == Bool.self
        {
            return try decodeReply(R.self, from: Self.parseResult(payload, range))
        }
        // Structured replies straight from the bytes of `result` by the tape decoder: no tree of
        // `JSONValue`s (its dictionaries and strings were about three allocations per act). A
        // failure is decoded again through the tree path, which decides how the error reads.
        // (A `do`, not `try?`: an `R?` here asks the runtime for `Optional<R>`'s metadata.)
        do {
            return try payload.withUnsafeBytes { buffer in
                try HemeraJSONDecoder().decode(R.self, from: UnsafeRawBufferPointer(rebasing: buffer[range]))
            }
        } catch {}
        return try decodeReply(R.self, from: Self.parseResult(payload, range))
    }

    static func parseResult(_ payload: [UInt8], _ range: Range<Int>) throws -> JSONValue {
        do {
            return try EnvelopeParser.parse(payload, range: range)
        } catch {
            throw HemeraError(name: .parse, message: "The reply is not valid JSON: \(error)", cause: error)
        }
    }

    /// Publishes a pattern without waiting for anything (`pubsub$`): every pubsub subscriber gets
    /// it, and one member of each queue group.
    public func publish(_ pattern: Pattern, meta: [String: JSONValue] = [:], delegate: [String: JSONValue] = [:])
        async throws
    {
        var pattern = pattern
        pattern.options["pubsub"] = true
        try await act(pattern, meta: meta, delegate: delegate)
    }

    /// Publishes a typed event (or pattern) without waiting for anything: every subscriber gets
    /// it (``subscribe(_:options:handler:)``), and one member of each queue group.
    public func publish<P: HemeraEvent>(_ pattern: P, meta: [String: JSONValue] = [:]) async throws {
        try await publish(try typedPattern(pattern), meta: meta)
    }

    /// Calls a pattern and yields every reply until `maxMessages` arrived or the timeout passed:
    /// streamed replies of one service, or scatter/gather over broadcast (`pubsub$`) services.
    ///
    /// - Parameters:
    ///   - pattern: the pattern called.
    ///   - meta: metadata sent along (merged over the current handler's).
    ///   - delegate: data for the called service only.
    ///   - timeout: how long to wait for replies (``HemeraOptions/timeout`` unless given).
    ///   - maxMessages: stop after this many replies (`maxMessages$`).
    ///   - expectedMessages: exactly this many replies are required within the timeout
    ///     (`expectedMessages$`); fewer end the sequence with `ExpectedMessagesError`.
    /// An error reply ends the sequence with that error. A Swift service's stream of unknown length
    /// ends the sequence as soon as its handler returns; a Node Hemera one at the timeout.
    public func actMany(
        _ pattern: Pattern,
        meta: [String: JSONValue] = [:],
        delegate: [String: JSONValue] = [:],
        timeout: Duration? = nil,
        maxMessages: Int? = nil,
        expectedMessages: Int? = nil
    ) throws -> AsyncThrowingStream<JSONValue, any Error> {
        let request = try makeRequest(pattern, meta: meta, delegate: delegate, timeout: timeout)
        let expected = expectedMessages ?? pattern.options["expectedMessages"]?.integerValue.map { Int($0) }
        let limit = expected ?? maxMessages ?? pattern.options["maxMessages"]?.integerValue.map { Int($0) }
        let (payload, topic) = encodeRequest(request, type: .request)
        // Asks a Swift service for an end marker after its last reply (see `HemeraStream`).
        let replies = transport.requestMany(
            to: topic,
            payload: payload,
            headers: [HemeraStream.requestHeader: HemeraStream.requestHeaderValue],
            timeout: request.timeout,
            maxReplies: limit
        )
        let timeoutValue = request.timeout
        return AsyncThrowingStream { continuation in
            let task = Task {
                var count = 0
                do {
                    for try await reply in replies {
                        if reply.payload == HemeraStream.endMarker { break }
                        let response = try Self.decodeReplyEnvelope(reply.payload)
                        count += 1
                        continuation.yield(response.result)
                    }
                    if let expected, count < expected {
                        throw HemeraError(
                            name: .expectedMessages,
                            message: "Expected \(expected) messages within \(timeoutValue), received \(count)"
                        )
                    }
                    continuation.finish()
                } catch let error as TransportError where error.code == .timeout && expected != nil {
                    continuation.finish(
                        throwing: HemeraError(
                            name: .expectedMessages,
                            message: "Expected \(expected ?? 0) messages within \(timeoutValue), received \(count)",
                            cause: error
                        )
                    )
                } catch {
                    continuation.finish(throwing: Self.mapTransportError(error, topic: topic, timeout: timeoutValue))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Typed ``actMany(_:meta:delegate:timeout:maxMessages:expectedMessages:)``.
    public func actMany<P: HemeraPattern>(
        _ pattern: P,
        meta: [String: JSONValue] = [:],
        timeout: Duration? = nil,
        maxMessages: Int? = nil,
        expectedMessages: Int? = nil
    ) throws -> AsyncThrowingStream<P.Reply, any Error> {
        let replies = try actMany(
            try typedPattern(pattern),
            meta: meta,
            timeout: timeout,
            maxMessages: maxMessages,
            expectedMessages: expectedMessages
        )
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await reply in replies {
                        continuation.yield(try self.decodeReply(P.Reply.self, from: reply))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: - internals

    func typedPattern<P: HemeraEvent>(_ pattern: P) throws -> Pattern {
        var members: [String: JSONValue]
        do {
            guard case .object(let payload) = try HemeraJSONEncoder().encodeToValue(pattern) else {
                throw HemeraError(name: .invalidPattern, message: "\(P.self) must encode as a JSON object")
            }
            members = payload
        }
        for (key, value) in P.fixedKeys { members[key] = value }
        return Pattern(members)
    }

    func decodeReply<R: Decodable>(_ type: R.Type, from result: JSONValue) throws -> R {
        if let json = result as? R { return json }
        // Common primitive replies skip the Codable machinery.
        switch result {
        case .integer(let number):
            if R.self == Int.self, let value = Int(exactly: number) as? R { return value }
            if R.self == Double.self, let value = Double(number) as? R { return value }
        case .double(let number):
            if R.self == Double.self, let value = number as? R { return value }
        case .string(let text):
            if let value = text as? R { return value }
        case .bool(let flag):
            if let value = flag as? R { return value }
        default:
            break
        }
        do {
            return try HemeraJSONDecoder().decode(R.self, from: result)
        } catch {
            throw HemeraError(
                name: .responseDecoding,
                message: "The reply does not decode as \(R.self): \(error)",
                cause: error
            )
        }
    }

    func makeRequest(
        _ pattern: Pattern,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        timeout: Duration?
    ) throws -> ActRequest {
        guard let topic = pattern.topic, !topic.isEmpty else {
            throw HemeraError(name: .invalidPattern, message: "A pattern needs a string topic")
        }
        _ = topic
        let fullMeta = mergedMeta(meta, current: HemeraContext.current)
        var resolvedTimeout = timeout ?? options.timeout
        if timeout == nil, let milliseconds = pattern.options["timeout"]?.doubleValue {
            resolvedTimeout = .milliseconds(Int64(milliseconds))
        }
        var request = ActRequest(
            pattern: pattern.keys,
            meta: fullMeta,
            delegate: delegate,
            timeout: resolvedTimeout,
            isPubSub: pattern.options["pubsub"]?.boolValue == true
        )
        request.isIdempotent = pattern.options["idempotent"]?.boolValue == true
        return request
    }

    func intercepted(_ request: ActRequest) async throws -> ActResponse {
        let interceptors = options.clientInterceptors
        if interceptors.isEmpty { return try await send(request) }
        var next: @Sendable (ActRequest) async throws -> ActResponse = { try await self.send($0) }
        for interceptor in interceptors.reversed() {
            let inner = next
            next = { try await interceptor.intercept($0, next: inner) }
        }
        return try await next(request)
    }

    /// Writes the request envelope in one pass.
    func encodeRequest(_ request: ActRequest, type: HemeraRequestInfo.Kind) -> (payload: [UInt8], topic: String) {
        let topic = request.pattern["topic"]?.stringValue ?? ""
        let payload = encodeEnvelope(
            topic: topic,
            method: Pattern.method(of: request.pattern),
            meta: request.meta,
            delegate: request.delegate,
            type: type
        ) { writer in writer.object(request.pattern) }
        return (payload, topic)
    }

    func encodeEnvelope(
        topic: String,
        method: String,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        type: HemeraRequestInfo.Kind,
        patternSize: Int = 0,
        current: HemeraContext? = HemeraContext.current,
        pattern writePattern: (inout JSONWriter) -> Void
    ) -> [UInt8] {
        // Sized for the whole envelope, so large payloads are not copied while it grows.
        var writer = JSONWriter(capacity: 320 + patternSize + (method.utf8.count + topic.utf8.count) * 2)
        writer.raw("{\"pattern\":")
        writePattern(&writer)
        writeEnvelopeRest(
            into: &writer,
            topic: topic,
            method: .text(method),
            meta: meta,
            delegate: delegate,
            type: type,
            current: current
        )
        return writer.bytes
    }

    /// A request's `method` string (`cmd:add,topic:math`), as text or as its sorted parts.
    enum EnvelopeMethod {
        case text(String)
        /// Sorted `(key, value)` parts, joined as `key:value,…` where it is written: no `String`
        /// of their own.
        case parts([(key: String, value: String)])

        var utf8Count: Int {
            switch self {
            case .text(let text): return text.utf8.count
            case .parts(let parts):
                var count = 0
                for part in parts { count += part.key.utf8.count + part.value.utf8.count + 2 }
                return count
            }
        }

        /// Writes the method as a JSON string and returns where (quotes included), so that its
        /// second occurrence in the envelope is a copy of those bytes, escaped once.
        func write(into writer: inout JSONWriter) -> Range<Int> {
            let start = writer.count
            switch self {
            case .text(let text):
                writer.string(text)
            case .parts(let parts):
                // Escaping is per character and `,` and `:` need none: the same bytes as escaping
                // the joined string.
                writer.raw("\"")
                var first = true
                for part in parts {
                    if !first { writer.raw(",") }
                    first = false
                    writer.stringContents(part.key)
                    writer.raw(":")
                    writer.stringContents(part.value)
                }
                writer.raw("\"")
            }
            return start..<writer.count
        }
    }

    /// Everything of a request envelope after its pattern: `meta`, `delegate`, `trace` and
    /// `request`, and the closing brace.
    func writeEnvelopeRest(
        into writer: inout JSONWriter,
        topic: String,
        method: EnvelopeMethod,
        meta: [String: JSONValue],
        delegate: [String: JSONValue],
        type: HemeraRequestInfo.Kind,
        current: HemeraContext?
    ) {
        let parent = current?.trace
        writer.reserve(320 + (method.utf8Count + topic.utf8.count) * 2)
        writer.raw(",\"meta\":")
        writer.object(meta)
        writer.raw(",\"delegate\":")
        writer.object(delegate)
        // The trace and request objects, written in place (the layout of `HemeraTrace.write` and
        // `HemeraRequestInfo.write`); the ids go straight into the buffer.
        // With tracing on, an act started by ``Observers/observeAct(topic:cmd:_:)`` carries its
        // span's W3C ids: the trace id when it starts a trace, the span id always.
        let traced = observers == nil ? nil : ObservedAct.current
        writer.raw(",\"trace\":{\"traceId\":")
        if let parent, !parent.traceId.isEmpty {
            writer.string(parent.traceId)
        } else if let traceID = traced?.traceID {
            writer.string(traceID)
        } else {
            IDGenerator.writeNext(to: &writer)
        }
        writer.raw(",\"spanId\":")
        if let spanID = traced?.spanID {
            writer.string(spanID)
        } else {
            IDGenerator.writeNext(to: &writer)
        }
        if let parent, !parent.spanId.isEmpty {
            writer.raw(",\"parentSpanId\":")
            writer.string(parent.spanId)
        }
        writer.raw(",\"timestamp\":")
        writer.double(epochMilliseconds())
        writer.raw(",\"service\":")
        writer.string(topic)
        writer.raw(",\"method\":")
        let methodBytes = method.write(into: &writer)
        writer.raw("},\"request\":{\"id\":")
        IDGenerator.writeNext(to: &writer)
        if type == .request {
            writer.raw(",\"type\":\"request\"")
        } else {
            writer.raw(",\"type\":\"pubsub\"")
        }
        writer.raw(",\"service\":")
        writer.string(topic)
        writer.raw(",\"method\":")
        writer.copyWritten(methodBytes)
        writer.raw("}}")
    }

    func send(_ request: ActRequest) async throws -> ActResponse {
        if request.isPubSub {
            let (payload, topic) = encodeRequest(request, type: .pubsub)
            do {
                try transport.publish(to: topic, payload: payload, replyTo: nil)
            } catch {
                throw Self.mapTransportError(error, topic: topic)
            }
            return ActResponse(result: .null, meta: request.meta)
        }
        let (payload, topic) = encodeRequest(request, type: .request)
        guard request.isIdempotent, let policy = options.retryPolicy else {
            let reply = try await self.request(topic: topic, payload: payload, timeout: request.timeout)
            return try Self.decodeReplyEnvelope(reply.payload)
        }
        return try await withRetries(policy, timeout: request.timeout) { attemptTimeout in
            let reply = try await self.request(topic: topic, payload: payload, timeout: attemptTimeout)
            return try Self.decodeReplyEnvelope(reply.payload)
        }
    }

    /// One request on the transport: the timeout is cut to the deadline of the request being
    /// handled (nested acts), and travels as the `Hemera-Timeout` header (milliseconds).
    @inline(__always)
    func request(
        topic: String,
        payload: [UInt8],
        timeout: Duration,
        current: HemeraContext? = HemeraContext.current
    ) async throws -> TransportMessage {
        let timeout = try Self.timeout(timeout, cutToDeadlineOf: current, topic: topic)
        do {
            // With tracing on: the span's context as headers (`traceparent`, `tracestate`).
            if observers != nil, let traced = ObservedAct.current, !traced.headers.isEmpty {
                var headers = traced.headers
                if options.propagatesDeadline {
                    headers[HemeraHeaders.timeout] = String(max(1, timeout.wholeMilliseconds))
                }
                return try await transport.request(to: topic, payload: payload, headers: headers, timeout: timeout)
            }
            if options.propagatesDeadline {
                let milliseconds = max(1, timeout.wholeMilliseconds)
                if let natsTransport {
                    return try await natsTransport.request(
                        to: topic,
                        payload: payload,
                        timeoutHeader: milliseconds,
                        timeout: timeout
                    )
                }
                return try await transport.request(
                    to: topic,
                    payload: payload,
                    headers: [HemeraHeaders.timeout: String(milliseconds)],
                    timeout: timeout
                )
            }
            return try await transport.request(to: topic, payload: payload, timeout: timeout)
        } catch {
            throw Self.mapTransportError(error, topic: topic, timeout: timeout)
        }
    }

    /// `timeout`, cut to what is left of the deadline of the request being handled, if any; throws
    /// the timeout error when nothing is left. Synchronous and not inlined: its
    /// `ContinuousClock.Instant` values (a resilient type, of a size known at run time) would be
    /// allocated from the task in every async caller (issue 12).
    @inline(never)
    static func timeout(_ timeout: Duration, cutToDeadlineOf current: HemeraContext?, topic: String) throws
        -> Duration
    {
        guard let deadline = current?.deadline else { return timeout }
        let remaining = deadline - .now
        if remaining <= .zero {
            throw HemeraError(
                name: .timeout,
                message: "Timeout: the deadline of the request being handled passed before calling \(topic)"
            )
        }
        return min(timeout, remaining)
    }

    static func decodeReplyEnvelope(_ payload: [UInt8]) throws -> ActResponse {
        // The reply's `trace` and `request` objects are validated and skipped, not built: a
        // caller reads only `result`, `error` and `meta` (fewer allocations per act).
        let envelope: EnvelopeParser.RequestEnvelope?
        do {
            envelope = try EnvelopeParser.parseRequestEnvelope(payload)
        } catch {
            throw HemeraError(name: .parse, message: "The reply is not valid JSON: \(error)", cause: error)
        }
        guard let envelope else {
            throw HemeraError(name: .parse, message: "The reply is not a JSON object")
        }
        if let error = envelope.others["error"], !error.isNull {
            throw HemeraError(wire: error)
        }
        return ActResponse(result: envelope.others["result"] ?? .null, meta: envelope.meta?.objectValue ?? [:])
    }

    /// The ``HemeraError`` for a failed call: `act` throws nothing else (but `CancellationError`
    /// when its task is cancelled).
    static func mapTransportError(_ error: any Error, topic: String, timeout: Duration? = nil) -> any Error {
        guard let transportError = error as? TransportError else {
            if error is HemeraError || error is CancellationError { return error }
            // The caller's own process: the detail is the caller's to see, so nothing is hidden.
            if let convertible = error as? any HemeraErrorConvertible { return convertible.hemeraError }
            return HemeraError(name: .internalError, message: String(describing: error), cause: error)
        }
        switch transportError.code {
        case .timeout:
            return HemeraError(
                name: .timeout,
                message: "Timeout: no reply on \(topic)\(timeout.map { " within \($0)" } ?? "")",
                cause: transportError
            )
        case .noResponders:
            return HemeraError(name: .noResponders, message: "No responders on \(topic)", cause: transportError)
        case .closed:
            return HemeraError(name: .closed, message: "The connection is closed", cause: transportError)
        case .permissionDenied:
            return HemeraError(
                name: .permissionDenied,
                message: "Permission denied on \(topic): \(transportError.message)",
                cause: transportError
            )
        case .payloadTooLarge:
            return HemeraError(
                name: .payloadTooLarge,
                message: "The request to \(topic) exceeds the server's maximum payload: \(transportError.message)",
                cause: transportError
            )
        case .unavailable:
            return HemeraError(
                name: .unavailable,
                message: "Not connected: the request to \(topic) was not sent (\(transportError.message))",
                cause: transportError
            )
        case .other:
            return HemeraError(name: .internalError, message: transportError.message, cause: transportError)
        }
    }
}
