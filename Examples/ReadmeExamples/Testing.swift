// README: unit tests without a server
import Hemera

func unitTestAdd() async throws -> Int {
    // Same matching, validation, errors and interceptors as over NATS.
    try await withHemera(transport: InMemoryTransport()) { hemera in
        try hemera.add(AddAction())
        return try await hemera.act(Add(a: 1, b: 2))  // 3
    }
}
// END
