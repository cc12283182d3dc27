extension Hemera {
    /// Subscribes to a typed event: `handler` runs for every event published on the event's
    /// pattern, with nothing sent back.
    ///
    /// By default every instance gets every event (`pubsub$`, no queue group), as Hemera's
    /// `pubsub$: true` does; give ``AddOptions/queue`` to have one member of that group take each
    /// event instead. Events are validated like requests (``HemeraValidatable``): an invalid event
    /// never reaches the handler, and is logged at `debug` since nobody waits for an answer.
    ///
    /// ```swift
    /// struct OrderCreated: HemeraEvent {
    ///     static let topic = "orders"
    ///     static let cmd: String? = "created"
    ///     var id: Int
    /// }
    /// try hemera.subscribe(OrderCreated.self) { event, context in
    ///     context.logger.info("order created", metadata: ["id": "\(event.id)"])
    /// }
    /// try await hemera.publish(OrderCreated(id: 7))
    /// ```
    ///
    /// - Throws: ``HemeraError`` (`PatternAlreadyInUse`, a closed instance) or a transport error.
    @discardableResult
    public func subscribe<E: HemeraEvent>(
        _ type: E.Type,
        options: AddOptions = AddOptions(),
        handler: @escaping @Sendable (E, HemeraContext) async throws -> Void
    ) throws -> HemeraActionHandle {
        try Self.checkRuleKeys(of: E.self)
        var options = options
        options.pubsub = options.queue == nil
        let mode = options.validation
        let validates = E.self is any HemeraValidatable.Type
        return try register(Pattern(E.fixedKeys), options: options, schema: Self.schema(of: E.self)) {
            received,
            _ throws(ValidationFailure) in
            let event = try decodeValidated(E.self, from: received, mode: mode)
            if validates { try validateTyped(event) }
            return { context in
                try await handler(event, context)
                // Sent only when the message had a reply subject (someone acted on the event).
                return .value(.null)
            }
        }
    }
}
