// The README's examples: every declaration between `// README` markers appears verbatim in
// docs/api.md (checked by HemeraDemoTests), so the README's code compiles.
// README: typed pattern and named handler
import Hemera

/// `{topic: "math", cmd: "add", a, b}`: the routing keys, the payload and the reply type.
struct Add: HemeraPattern {
    static let topic = "math"
    static let cmd: String? = "add"
    typealias Reply = Int

    var a: Int
    var b: Int
}

/// The implementation, next to the pattern (the seed's "named handler").
struct AddAction: HemeraAction {
    func handle(_ request: Add, context: HemeraContext) async throws -> Int {
        request.a + request.b
    }
}

func serveAndCallAdd(_ hemera: Hemera) async throws -> Int {
    try hemera.add(AddAction())  // the service side
    return try await hemera.act(Add(a: 1, b: 2))  // anywhere else: 3
}
// END
