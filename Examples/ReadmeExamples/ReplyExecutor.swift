// README: latency-critical call loops
import Hemera

func sumAll(_ hemera: Hemera, pairs: [(Int, Int)]) async throws -> Int {
    var total = 0
    // On NATS, resume after each reply on the connection's reply thread (no hop to Swift's pool).
    // The code between acts runs there: keep it short and never block.
    guard let executor = hemera.replyExecutor else {
        for (a, b) in pairs { total += try await hemera.act(Add(a: a, b: b)) }
        return total
    }
    try await withTaskExecutorPreference(executor) {
        for (a, b) in pairs { total += try await hemera.act(Add(a: a, b: b)) }
    }
    return total
}
// END
