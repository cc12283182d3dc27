// README: untyped patterns
import Hemera

func untypedMultiply(_ hemera: Hemera) async throws -> JSONValue {
    try hemera.add(["topic": "math", "cmd": "multiply"]) { pattern, _ in
        .integer((pattern["a"]?.integerValue ?? 0) * (pattern["b"]?.integerValue ?? 0))
    }
    return try await hemera.act(["topic": "math", "cmd": "multiply", "a": 6, "b": 7])  // 42
}
// END
