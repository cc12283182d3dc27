// README: publish/subscribe
import Hemera

func orderEvents(_ hemera: Hemera, onCreated: @escaping @Sendable (Int64) -> Void) async throws {
    // pubsub$: every instance gets every message (no queue group), nobody replies.
    try hemera.add(["topic": "orders", "cmd": "created", "pubsub$": true]) { event, _ in
        onCreated(event["id"]?.integerValue ?? 0)
        return nil
    }
    // Fire and forget.
    try await hemera.publish(["topic": "orders", "cmd": "created", "id": 7])
}
// END
