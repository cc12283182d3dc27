// README: streaming replies
import Hemera

/// One request, several replies: the handler sends each through a writer.
struct Countdown: HemeraPattern {
    static let topic = "clock"
    static let cmd: String? = "countdown"
    typealias Reply = Int

    var from: Int
}

func countdown(_ hemera: Hemera) async throws -> [Int] {
    try hemera.addStreaming(Countdown.self) { request, _, writer in
        for value in stride(from: request.from, through: 1, by: -1) {
            try await writer.send(value)
        }
    }
    var received: [Int] = []
    for try await value in try hemera.actMany(Countdown(from: 3), expectedMessages: 3) {
        received.append(value)  // 3, 2, 1
    }
    return received
}
// END
