import Foundation
import Hemera
import HemeraAppSupport
import HemeraDemoServices
import HemeraNATS
import HemeraTesting
import Testing

@Suite("The hemera and hemera-demo executables, run as subprocesses")
struct CLITests {
    @Test("act: the result as JSON on stdout, exit 0 (JSON and short form)")
    func actSucceeds() async throws {
        try await withDemo([.math, .users]) { server, _, _ async throws in
            let json = try await runTool(
                "hemera",
                ["act", "--server", server.url, #"{"topic":"math","cmd":"add","a":1,"b":2}"#]
            )
            #expect(json.status == 0, "\(json.stderr)")
            #expect(try parseJSON(json.stdout) == 3)

            let short = try await runTool("hemera", ["act", "--server", server.url, "topic:users,cmd:get,id:1"])
            #expect(short.status == 0, "\(short.stderr)")
            let user = try parseJSON(short.stdout)
            #expect(user["name"] == "Ada Lovelace")
            #expect(short.stderr.isEmpty)
        }
    }

    @Test("act: NATS_URL is the default server")
    func actUsesEnvironment() async throws {
        try await withDemo([.math]) { server, _, _ async throws in
            let tool = try Tool(
                "hemera",
                ["act", "topic:math,cmd:multiply,a:6,b:7"],
                environment: ["NATS_URL": server.url]
            )
            let result = await tool.wait()
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try parseJSON(result.stdout) == 42)
        }
    }

    @Test("act: an error reply is JSON on stderr and exit 1")
    func actErrorReply() async throws {
        try await withDemo([.math, .users]) { server, _, _ async throws in
            let validation = try await runTool(
                "hemera",
                ["act", "--server", server.url, "topic:math,cmd:divide,a:1,b:0"]
            )
            #expect(validation.status == 1)
            #expect(validation.stdout.isEmpty)
            let error = try parseJSON(validation.stderr)
            #expect(error["name"] == "ValidationError")
            #expect(error["details"]?[0]?["path"] == ["b"])

            let notFound = try await runTool("hemera", ["act", "--server", server.url, "topic:users,cmd:get,id:42"])
            #expect(notFound.status == 1)
            let missing = try parseJSON(notFound.stderr)
            #expect(missing["name"] == "NotFound")
            #expect(missing["code"] == "E_NOT_FOUND")
        }
    }

    @Test("act: no responders exits 2 at once, not after the timeout")
    func actNoResponders() async throws {
        try await withNATSServer { server in
            let result = try await runTool(
                "hemera",
                ["act", "--server", server.url, "--timeout", "10000", "topic:nobody,cmd:x"]
            )
            #expect(result.status == 2)
            #expect(result.stderr.contains("no responders"))
            #expect(result.duration < Duration.seconds(5).scaledForTests)
        }
    }

    @Test("act: a timeout exits 3")
    func actTimeout() async throws {
        try await withNATSServer { server in
            // A subscriber that never answers.
            let connection = try await NATSConnection.connect(NATSOptions(url: server.url))
            let silent = try connection.subscribe(to: "silent")
            try await connection.flush(timeout: .seconds(5))
            let result = try await runTool(
                "hemera",
                ["act", "--server", server.url, "--timeout", "300", "topic:silent,cmd:x"]
            )
            #expect(result.status == 3)
            #expect(result.stderr.contains("timeout"))
            try silent.unsubscribe()
            await connection.close()
        }
    }

    @Test("act: unusable input exits 64, an unreachable server 4")
    func actUsageAndConnection() async throws {
        let noTopic = try await runTool("hemera", ["act", "--server", "nats://127.0.0.1:1", "cmd:add"])
        #expect(noTopic.status == 64)
        let badJSON = try await runTool("hemera", ["act", "--server", "nats://127.0.0.1:1", "{\"topic\":"])
        #expect(badJSON.status == 64)
        let unreachable = try await runTool("hemera", ["act", "--server", "nats://127.0.0.1:1", "topic:math,cmd:add"])
        #expect(unreachable.status == 4)
        #expect(unreachable.stderr.contains("cannot connect"))
    }

    @Test("pub: a publish/subscribe act reaches a pubsub subscriber")
    func pub() async throws {
        try await withNATSServer { server in
            let connection = try await NATSConnection.connect(NATSOptions(url: server.url))
            let subscription = try connection.subscribe(to: "orders")
            try await connection.flush(timeout: .seconds(5))
            let result = try await runTool("hemera", ["pub", "--server", server.url, "topic:orders,cmd:created,id:7"])
            #expect(result.status == 0, "\(result.stderr)")
            var iterator = subscription.makeAsyncIterator()
            let message = try #require(await iterator.next())
            #expect(message.replyTo == nil)
            let envelope = try JSONValue(parsing: message.payload)
            #expect(envelope["pattern"] == ["topic": "orders", "cmd": "created", "id": 7])
            #expect(envelope["request"]?["type"] == "pubsub")
            try subscription.unsubscribe()
            await connection.close()
        }
    }

    @Test("bench: a table, and one JSON object with --json")
    func bench() async throws {
        try await withNATSServer { server in
            let table = try await runTool(
                "hemera",
                ["bench", "--server", server.url, "--count", "50", "--in-flight", "2", "--payload", "64"]
            )
            #expect(table.status == 0, "\(table.stderr)")
            for column in ["requests", "p50 ms", "p99 ms", "req/s"] { #expect(table.stdout.contains(column)) }
            #expect(table.stdout.contains("|       50 |"))

            let json = try await runTool("hemera", ["bench", "--server", server.url, "--count", "40", "--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let object = try parseJSON(json.stdout)
            #expect(object["requests"] == 40)
            #expect(object["errors"] == 0)
            #expect(object["payloadBytes"] == 128)
            let p50 = try #require(object["latencyMs"]?["p50"]?.doubleValue)
            let p99 = try #require(object["latencyMs"]?["p99"]?.doubleValue)
            #expect(p50 > 0 && p50 <= p99)
            #expect((object["throughputPerSecond"]?.doubleValue ?? 0) > 0)
        }
    }

    @Test("bench --write-mode: each mode answers every call; an unknown mode is a usage error")
    func benchWriteModes() async throws {
        try await withNATSServer { server in
            for mode in ["send-asap", "buffered", "coalesced"] {
                let result = try await runTool(
                    "hemera",
                    ["bench", "--server", server.url, "--count", "300", "--in-flight", "32", "--write-mode", mode, "--json"]
                )
                #expect(result.status == 0, "\(mode): \(result.stderr)")
                let object = try parseJSON(result.stdout)
                #expect(object["writeMode"] == .string(mode))
                #expect(object["requests"] == 300)
                #expect(object["errors"] == 0)
            }
            // Without --write-mode: the default of Hemera.connect.
            let byDefault = try await runTool(
                "hemera",
                ["bench", "--server", server.url, "--count", "300", "--in-flight", "32", "--json"]
            )
            #expect(byDefault.status == 0, "\(byDefault.stderr)")
            #expect(try parseJSON(byDefault.stdout)["writeMode"] == .string("coalesced"))
            let unknown = try await runTool("hemera", ["bench", "--server", server.url, "--write-mode", "fast"])
            #expect(unknown.status == 64)
        }
    }

    @Test("bench --no-responder: calls a running service; none running exits 2")
    func benchNoResponder() async throws {
        try await withDemo([.math]) { server, _, _ async throws in
            let result = try await runTool(
                "hemera",
                [
                    "bench", "--server", server.url, "--no-responder", "--pattern", "topic:math,cmd:add,a:1,b:2",
                    "--count", "30", "--json",
                ]
            )
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try parseJSON(result.stdout)["requests"] == 30)

            let nobody = try await runTool(
                "hemera",
                ["bench", "--server", server.url, "--no-responder", "--count", "5"]
            )
            #expect(nobody.status == 2)
        }
    }

    @Test("hemera-demo serve: answers, and exits 0 on SIGTERM after a graceful close")
    func serveAndStop() async throws {
        try await withNATSServer { server in
            let serve = try Tool("hemera-demo", ["serve", "math", "users", "--server", server.url])
            #expect(try await serve.waitForOutput("serving math, users"))
            let add = try await runTool("hemera", ["act", "--server", server.url, "topic:math,cmd:add,a:2,b:3"])
            #expect(add.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "5")
            kill(serve.pid, SIGTERM)
            let result = await serve.wait(timeout: .seconds(20))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("SIGTERM: closing"))
            #expect(result.stdout.contains("closed"))
        }
    }

    @Test("hemera-demo serve: SIGTERM during a call finishes it and sends the reply, then exits 0")
    func gracefulClose() async throws {
        try await withNATSServer { server in
            let serve = try Tool("hemera-demo", ["serve", "math", "--server", server.url, "--handler-delay", "1000"])
            #expect(try await serve.waitForOutput("serving math"))
            let client = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "client"))
            let call = Task { try await client.act(Add(a: 20, b: 22), timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(300))
            kill(serve.pid, SIGTERM)
            let sum = try await call.value
            #expect(sum == 42)
            let result = await serve.wait(timeout: .seconds(20))
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("SIGTERM: closing math (1 in flight)"))
            await client.close()
        }
    }

    @Test("hemera-demo tour: waits for the services, then every call behaves; a bounded wait otherwise")
    func tourProcess() async throws {
        try await withDemo { server, _, _ async throws in
            let tour = try await runTool(
                "hemera-demo",
                [
                    "tour", "--server", server.url, "--wait-for", "math,users,products,cart", "--wait-timeout", "10",
                ]
            )
            #expect(tour.status == 0, "\(tour.stdout)\n\(tour.stderr)")
            #expect(tour.stdout.contains("all as expected"))
        }
        try await withNATSServer { server in
            let tour = try await runTool(
                "hemera-demo",
                ["tour", "--server", server.url, "--wait-for", "math", "--wait-timeout", "1"]
            )
            #expect(tour.status == 2)
            #expect(tour.stderr.contains("no answer from math"))
            #expect(tour.duration < Duration.seconds(10).scaledForTests)
        }
    }
}
