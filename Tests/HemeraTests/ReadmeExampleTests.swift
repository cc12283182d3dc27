// The API example of the report/README, compiled and run on the in-memory transport.
import Hemera
import Testing

// One file per action: pattern, validation and implementation together ("named handler").
struct Multiply: HemeraPattern, HemeraValidatable {
    static let topic = "math"
    static let cmd: String? = "multiply"
    typealias Reply = Int
    var a: Int
    var b: Int
    static let rules: [ValidationRule<Multiply>] = [.range("a", \.a, -1000...1000)]
}

struct MultiplyAction: HemeraAction {
    func handle(_ request: Multiply, context: HemeraContext) async throws -> Int { request.a * request.b }
}

struct NotFound: HemeraErrorConvertible {
    var id: Int
    var hemeraError: HemeraError { HemeraError(name: "NotFound", message: "no user \(id)", code: "E_NOT_FOUND") }
}

@Test func readmeExample() async throws {
    let transport = InMemoryTransport()  // or: try await NATSTransport.connect(url: "nats://127.0.0.1:4222")
    try await withHemera(transport: transport, options: HemeraOptions(app: "math-service")) { hemera in
        try hemera.add(MultiplyAction())
        try hemera.add("topic:users,cmd:get") { pattern, _ in
            guard pattern["id"] == 1 else { throw NotFound(id: Int(pattern["id"]?.integerValue ?? 0)) }
            return ["id": 1, "name": "Ada"]
        }

        let product = try await hemera.act(Multiply(a: 6, b: 7))  // 42, an Int
        let user = try await hemera.act(["topic": "users", "cmd": "get", "id": 1])  // JSONValue
        #expect(product == 42)
        #expect(user["name"] == "Ada")
        do {
            try await hemera.act("topic:users,cmd:get,id:2")
            Issue.record("expected NotFound")
        } catch let error as HemeraError where error.name == "NotFound" {
            #expect(error.code == "E_NOT_FOUND")
        }
        do {
            try await hemera.act(Multiply(a: 5000, b: 1))
            Issue.record("expected a ValidationError")
        } catch let error as HemeraError where error.name == .validation {
            #expect(error.message == "a: must be less than or equal to 1000")
        }
    }
}
