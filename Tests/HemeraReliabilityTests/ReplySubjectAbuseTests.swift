import Foundation
@testable import Hemera
import HemeraLocks
import HemeraNATS
import HemeraTesting
import Logging
import Testing

/// Keeps every log line (message and metadata) in memory.
struct RecordingLogHandler: LogHandler {
    let lines: PthreadLock<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let extra = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: " ")
        lines.withLock { $0.append("\(event.level) \(event.message) \(extra)") }
    }
}

extension Reliability {
    @Suite("Reply-subject abuse: bounded log, bounded record, clean error text", .timeLimit(.minutes(2)))
    struct ReplySubjectAbuseTests {
        @Test("5,000 unique refused reply subjects, every refusal seen: the record stays at most 1,024")
        func deniedRecordStaysBounded() async throws {
            var configuration = NATSServerConfiguration()
            configuration.extraConfiguration = """
                authorization {
                  users = [
                    { user: svc, password: svc, permissions: { publish: { allow: [">"], deny: ["forbidden.>"] }, subscribe: ">" } }
                    { user: cli, password: cli, permissions: { publish: ">", subscribe: ">" } }
                  ]
                }
                """
            try await withNATSServer(configuration) { server in
                var serviceOptions = faultOptions([server.url], name: "svc")
                serviceOptions.authentication = .userPassword(user: "svc", password: "svc")
                let connection = try await NATSConnection.connect(serviceOptions, logger: quietLogger("svc"))
                let transport = NATSTransport(connection: connection)
                let service = Hemera(transport: transport, options: hemeraOptions("svc"), closeTransport: true)
                try service.add(["topic": "abuse", "cmd": "echo"]) { _, _ in true }
                try await service.ready()
                var clientOptions = faultOptions([server.url], name: "peer")
                clientOptions.authentication = .userPassword(user: "cli", password: "cli")
                let peer = try await NATSConnection.connect(clientOptions)
                let count = 5_000
                let batch = 100
                var largest = 0
                for first in stride(from: 0, to: count, by: batch) {
                    for n in first..<(first + batch) {
                        try peer.publish(
                            to: "abuse",
                            payload: Array(
                                #"{"pattern":{"topic":"abuse","cmd":"echo"},"request":{"id":"x","type":"request"}}"#
                                    .utf8
                            ),
                            replyTo: "forbidden.\(n)"
                        )
                    }
                    try await peer.flush(timeout: .seconds(5))
                    // Paced by the refusals themselves: the event stream keeps the newest 256, so a
                    // batch of 100 is never dropped, and every refused subject reaches the record.
                    try await waitUntil(timeout: .seconds(20)) {
                        transport.faults.withLock { $0.deniedPublishEvents } >= first + batch
                    }
                    largest = max(largest, transport.rememberedDeniedSubjects)
                }
                let seen = transport.faults.withLock { $0.deniedPublishEvents }
                print("denied record: \(seen) refusals seen, at most \(largest) subjects remembered")
                #expect(seen == count)
                #expect(largest <= NATSTransport.Faults.maxDeniedSubjects, "the record grew to \(largest)")
                #expect(transport.rememberedDeniedSubjects <= NATSTransport.Faults.maxDeniedSubjects)
                // A subject refused just now is still known (the record keeps the newest).
                #expect(transport.faults.withLock { $0.deniedPublishes["forbidden.\(count - 1)"] } != nil)
                // The service still serves normal callers.
                let client = try await connectHemera(clientOptions, options: hemeraOptions("cli"))
                #expect(try await client.act(["topic": "abuse", "cmd": "echo"]) == true)
                await client.close()
                await peer.close()
                await service.close()
            }
        }

        @Test("8,000 requests with unique reply subjects the service may not publish to")
        func forbiddenReplySubjects() async throws {
            var configuration = NATSServerConfiguration()
            configuration.extraConfiguration = """
                authorization {
                  users = [
                    { user: svc, password: svc, permissions: { publish: { allow: [">"], deny: ["forbidden.>"] }, subscribe: ">" } }
                    { user: cli, password: cli, permissions: { publish: ">", subscribe: ">" } }
                  ]
                }
                """
            try await withNATSServer(configuration) { server in
                let lines = PthreadLock<[String]>([])
                var options = hemeraOptions("svc")
                options.logger = Logger(label: "svc") { _ in RecordingLogHandler(lines: lines) }
                var serviceOptions = faultOptions([server.url], name: "svc")
                serviceOptions.authentication = .userPassword(user: "svc", password: "svc")
                let connection = try await NATSConnection.connect(serviceOptions, logger: options.logger)
                let transport = NATSTransport(connection: connection)
                let service = Hemera(transport: transport, options: options, closeTransport: true)
                let handled = Counter()
                try service.add(["topic": "abuse", "cmd": "echo"]) { _, _ in
                    handled.add("n")
                    return true
                }
                try await service.ready()
                var clientOptions = faultOptions([server.url], name: "peer")
                clientOptions.authentication = .userPassword(user: "cli", password: "cli")
                let peer = try await NATSConnection.connect(clientOptions)
                let count = 8_000
                let clock = ContinuousClock()
                let start = clock.now
                for n in 0..<count {
                    try peer.publish(
                        to: "abuse",
                        payload: Array(
                            #"{"pattern":{"topic":"abuse","cmd":"echo"},"request":{"id":"x","type":"request"}}"#.utf8
                        ),
                        replyTo: "forbidden.\(n)"
                    )
                    // Paced, so that the event consumers keep up and every refusal is seen.
                    if n % 50 == 49 { try await Task.sleep(for: .milliseconds(10)) }
                }
                try await peer.flush(timeout: .seconds(5))
                try await waitUntil(timeout: .seconds(20)) { handled["n"] == count }
                // The refusals arrive asynchronously after the replies.
                try await Task.sleep(for: .seconds(1))
                let elapsed = clock.now - start
                let logged = lines.withLock { $0 }
                let errorLines = logged.filter { $0.contains("asynchronous error") }
                print(
                    "reply-subject abuse: \(count) refused replies in \(elapsed), \(errorLines.count) error lines "
                        + "(\(errorLines.reduce(0) { $0 + $1.utf8.count }) bytes), \(transport.rememberedDeniedSubjects) subjects remembered"
                )
                #expect(handled["n"] == count)
                // At most 10 lines a second (plus one window's slack), not one per refused reply.
                let seconds = Int((elapsed / .seconds(1)).rounded(.up)) + 1
                #expect(errorLines.count <= 10 * (seconds + 1), "\(errorLines.count) lines in \(elapsed)")
                #expect(errorLines.count >= 1)
                // The record of refused subjects is bounded.
                #expect(transport.rememberedDeniedSubjects <= 1_024)
                // Every logged error text is whole: no NUL bytes, each names its subject.
                for line in errorLines {
                    #expect(!line.utf8.contains(0), "NUL in \(line.debugDescription)")
                    #expect(line.contains("Permissions Violation for Publish to"), "\(line.debugDescription)")
                }
                // The service still answers normal callers.
                let client = try await connectHemera(clientOptions, options: hemeraOptions("cli"))
                #expect(try await client.act(["topic": "abuse", "cmd": "echo"]) == true)
                await client.close()
                await peer.close()
                await service.close()
            }
        }
    }
}
