// README: short form
import Hemera

func shortForm(_ hemera: Hemera) async throws -> JSONValue {
    // Numbers are numbers, true/false Booleans, anything else a string; a quoted value is a
    // string as written: sku:"001" is the string 001 (sku:001 the number 1).
    try await hemera.act("topic:math,cmd:multiply,a:6,b:7", timeout: .milliseconds(500))  // 42
}
// END
