// README: typed events
import Hemera

/// An event: routing keys and payload, no reply type.
struct OrderCreated: HemeraEvent {
    static let topic = "orders"
    static let cmd: String? = "created"

    var id: Int
}

func typedOrderEvents(_ hemera: Hemera, onCreated: @escaping @Sendable (Int) -> Void) async throws {
    // Every instance gets every event (pubsub$); AddOptions(queue: "billing") for one per group.
    try hemera.subscribe(OrderCreated.self) { event, _ in onCreated(event.id) }
    try await hemera.publish(OrderCreated(id: 7))  // fire and forget
}
// END
