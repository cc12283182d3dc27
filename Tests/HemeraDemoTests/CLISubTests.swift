import Foundation
import Hemera
import HemeraAppSupport
import HemeraTesting
import Testing

/// Issue 14, item 7: `hemera sub`, `act --max-messages`, quoted strings in the short form, and
/// `pub`'s confirmation on stdout.
@Suite("hemera sub, act --max-messages, quoted short form, pub output")
struct CLISubTests {
    struct Countdown: HemeraPattern {
        static let topic = "clock"
        static let cmd: String? = "countdown"
        typealias Reply = Int
        var from: Int
    }

    @Test("sub: prints each matching message, one JSON line, and never answers")
    func sub() async throws {
        try await withNATSServer { server in
            let tool = try Tool("hemera", ["sub", "--server", server.url, "--count", "2", "topic:orders,cmd:created"])
            let deadline = ContinuousClock.now + .seconds(30)
            while !tool.stderr.contains("listening") && ContinuousClock.now < deadline && tool.process.isRunning {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(tool.stderr.contains("listening on orders"), "\(tool.stderr)")
            let client = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "client"))
            try await client.publish(["topic": "orders", "cmd": "created", "id": 7])
            try await client.publish(["topic": "orders", "cmd": "deleted", "id": 8])  // filtered out
            // A request nobody else answers: sub must not answer it either.
            let unanswered = await expectHemeraError {
                _ = try await client.act(["topic": "orders", "cmd": "created", "id": 9], timeout: .milliseconds(300))
            }
            #expect(unanswered?.name == .timeout)
            let result = await tool.wait(timeout: .seconds(30))
            await client.close()
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 2, "\(result.stdout)")
            #expect(try lines.map { try parseJSON($0)["id"] } == [7, 9])
            #expect(try parseJSON(lines[0]) == ["topic": "orders", "cmd": "created", "id": 7])
        }
    }

    @Test("act --max-messages: every streamed reply, and done when the stream ends")
    func actMaxMessages() async throws {
        try await withNATSServer { server in
            let service = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "clock"))
            try service.addStreaming(Countdown.self) { request, _, writer in
                for value in stride(from: request.from, through: 1, by: -1) { try await writer.send(value) }
            }
            try await service.ready()
            let result = try await runTool(
                "hemera",
                [
                    "act", "--server", server.url, "--timeout", "20000", "--max-messages", "10",
                    "topic:clock,cmd:countdown,from:3",
                ]
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "3\n2\n1\n")
            #expect(result.duration < .seconds(15), "ended by the stream's end, not the 20 s timeout")
            let limited = try await runTool(
                "hemera",
                ["act", "--server", server.url, "--max-messages", "2", "topic:clock,cmd:countdown,from:5"]
            )
            #expect(limited.stdout == "5\n4\n")
            await service.close()
        }
    }

    @Test("short form: a quoted value is a string without its quotes")
    func quotedShortForm() async throws {
        try await withNATSServer { server in
            let service = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "inventory"))
            try service.add("topic:inventory,cmd:echo") { pattern, _ in pattern["sku"] ?? .null }
            try await service.ready()
            let quoted = try await runTool(
                "hemera",
                ["act", "--server", server.url, #"topic:inventory,cmd:echo,sku:"001""#]
            )
            #expect(quoted.status == 0, "\(quoted.stderr)")
            #expect(quoted.stdout == "\"001\"\n")
            let number = try await runTool(
                "hemera",
                ["act", "--server", server.url, "topic:inventory,cmd:echo,sku:001"]
            )
            #expect(number.stdout == "1\n")
            await service.close()
        }
    }

    @Test("pub: the confirmation on stdout (nothing on stderr), nothing at all with --quiet")
    func pubOutput() async throws {
        try await withNATSServer { server in
            let result = try await runTool("hemera", ["pub", "--server", server.url, "topic:orders,cmd:created,id:7"])
            #expect(result.status == 0)
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("published to orders: "), "\(result.stdout)")
            let quiet = try await runTool(
                "hemera",
                ["pub", "--quiet", "--server", server.url, "topic:orders,cmd:created,id:7"]
            )
            #expect(quiet.status == 0)
            #expect(quiet.stdout.isEmpty && quiet.stderr.isEmpty)
        }
    }
}
