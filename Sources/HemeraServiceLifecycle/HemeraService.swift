public import Hemera
internal import HemeraNATS
public import ServiceLifecycle

/// A Hemera instance as a swift-service-lifecycle `Service`: runs until graceful shutdown (e.g.
/// SIGTERM given to a `ServiceGroup`), then closes gracefully: no new requests (the service
/// subscriptions are drained), in-flight handlers finish and their replies are sent, then the
/// connection drains.
///
/// When the NATS connection closes for good on its own (cnats gave up reconnecting, e.g. after the
/// server refused the credentials twice in a row), ``run()`` throws ``HemeraServiceError``: the
/// instance would never serve again, so the `ServiceGroup` fails and the process can end non-zero
/// for its supervisor to restart it, instead of living on as a zombie.
///
/// ```swift
/// let hemera = try await Hemera.connect(url: url, options: HemeraOptions(app: "math"))
/// try hemera.add(AddAction())
/// let group = ServiceGroup(
///     services: [HemeraService(hemera)],
///     gracefulShutdownSignals: [.sigterm, .sigint],
///     logger: logger
/// )
/// try await group.run()   // throws HemeraServiceError when the connection is lost for good
/// ```
public struct HemeraService: Service {
    /// The instance run by this service.
    public let hemera: Hemera
    /// How long ``run()`` waits for in-flight handlers once shutdown started.
    public var gracePeriod: Duration

    /// Wraps an instance whose actions are added (before or while it runs).
    public init(_ hemera: Hemera, gracePeriod: Duration = .seconds(30)) {
        self.hemera = hemera
        self.gracePeriod = gracePeriod
    }

    /// Waits for graceful shutdown (or cancellation), then closes the instance gracefully.
    ///
    /// - Throws: ``HemeraServiceError`` when the NATS connection closed for good before shutdown.
    public func run() async throws {
        guard let connection = (hemera.transport as? NATSTransport)?.connection else {
            await waitForShutdown()
            await hemera.close(gracePeriod: gracePeriod)
            return
        }
        let lost = await withTaskGroup(of: NATSError?.self) { group in
            group.addTask {
                await waitForShutdown()
                return nil
            }
            group.addTask {
                await connection.waitUntilClosed()
                return connection.unexpectedCloseReason
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        await hemera.close(gracePeriod: gracePeriod)
        if let lost { throw HemeraServiceError(reason: lost) }
    }

    private func waitForShutdown() async {
        do {
            try await gracefulShutdown()
        } catch {
            // Only cancellation ends the wait with an error: close gracefully all the same.
        }
    }
}

/// The NATS connection of a ``HemeraService`` closed for good before shutdown: the instance cannot
/// serve any more.
public struct HemeraServiceError: Error, Sendable, CustomStringConvertible {
    /// Why the connection closed, as reported by the NATS layer (credentials redacted), e.g.
    /// `NATSError(Authentication Failed): nats: Authorization Violation`.
    public var reason: String

    init(reason: NATSError) {
        self.reason = reason.description
    }

    /// `the NATS connection closed for good: <reason>`.
    public var description: String { "the NATS connection closed for good: \(reason)" }
}
