import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

/// Runs an executable beside the tests; returns its exit status, stdout and stderr.
func runTool(_ name: String, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> (
    status: Int32, out: String, err: String
) {
    let directory = NSTemporaryDirectory() + "hemera-tool-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let out = "\(directory)/out"
    let err = "\(directory)/err"
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "\(binDirectory)/\(name)")
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    try process.run()
    try await waitUntil(timeout: timeout) { !process.isRunning }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return (process.terminationStatus, read(out), read(err))
}

extension Reliability {
    @Suite("Credentials never printed", .timeLimit(.minutes(2)))
    struct RedactionTests {
        @Test("NATSRedaction hides passwords and tokens in URLs, lists and messages")
        func redaction() {
            #expect(NATSRedaction.redact("nats://alice:s3cret@127.0.0.1:4222") == "nats://alice:***@127.0.0.1:4222")
            #expect(NATSRedaction.redact("nats://t0ken@127.0.0.1:4222") == "nats://***@127.0.0.1:4222")
            #expect(
                NATSRedaction.redact("cannot connect to nats://a:p@h:1,tls://b:q@r@h2:2/x")
                    == "cannot connect to nats://a:***@h:1,tls://b:***@h2:2/x"
            )
            #expect(NATSRedaction.redact("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222")
            #expect(NATSRedaction.redact("no url, an @ sign") == "no url, an @ sign")
        }

        @Test("`hemera act` and `hemera-demo` with a wrong password: exit 4, no password in the output")
        func cliOutputRedacted() async throws {
            var configuration = NATSServerConfiguration()
            configuration.user = "alice"
            configuration.password = "s3cret"
            try await withNATSServer(configuration) { server in
                let url = "nats://alice:WRONGPW@127.0.0.1:\(server.port)"
                let act = try await runTool("hemera", ["act", "topic:math,cmd:add", "--server", url])
                #expect(act.status == 4)
                #expect(act.err.contains("cannot connect"), "\(act.err)")
                #expect(!(act.out + act.err).contains("WRONGPW"), "\(act.err)")
                let serve = try await runTool("hemera-demo", ["serve", "math", "--server", url])
                #expect(serve.status == 4)
                #expect(!(serve.out + serve.err).contains("WRONGPW"), "\(serve.err)")
                let tour = try await runTool("hemera-demo", ["tour", "--server", url])
                #expect(tour.status == 4)
                #expect(!(tour.out + tour.err).contains("WRONGPW"), "\(tour.err)")
            }
        }

        @Test("Reconnect events and the connected URL carry no password")
        func eventsRedacted() async throws {
            var configuration = NATSServerConfiguration()
            configuration.user = "alice"
            configuration.password = "s3cret"
            try await withNATSServer(configuration) { server in
                let connection = try await NATSConnection.connect(
                    faultOptions(["nats://alice:s3cret@127.0.0.1:\(server.port)"], name: "svc")
                )
                #expect(connection.connectedURL == "nats://alice:***@127.0.0.1:\(server.port)")
                let events = connection.events
                try await server.restart()
                var reconnectedURL: String?
                for await event in events {
                    if case .reconnected(let url) = event {
                        reconnectedURL = url
                        break
                    }
                }
                #expect(reconnectedURL == "nats://alice:***@127.0.0.1:\(server.port)")
                await connection.close()
            }
        }
    }
}
