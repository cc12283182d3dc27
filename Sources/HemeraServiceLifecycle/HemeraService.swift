public import Hemera
public import ServiceLifecycle

/// A Hemera instance as a swift-service-lifecycle `Service`: runs until graceful shutdown (e.g.
/// SIGTERM given to a `ServiceGroup`), then closes gracefully: no new requests (the service
/// subscriptions are drained), in-flight handlers finish and their replies are sent, then the
/// connection drains.
///
/// ```swift
/// let hemera = try await Hemera.connect(url: url, options: HemeraOptions(app: "math"))
/// try hemera.add(AddAction())
/// let group = ServiceGroup(
///     services: [HemeraService(hemera)],
///     gracefulShutdownSignals: [.sigterm, .sigint],
///     logger: logger
/// )
/// try await group.run()
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
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            // Only cancellation ends the wait with an error: close gracefully all the same.
        }
        await hemera.close(gracePeriod: gracePeriod)
    }
}
