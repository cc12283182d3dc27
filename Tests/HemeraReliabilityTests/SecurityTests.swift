import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Testing

/// Serves `topic: secure, cmd: ping` on one connection and calls it from another, both made by
/// `configure`, and returns the reply.
private func pingRoundTrip(_ server: NATSTestServer, _ configure: (inout NATSOptions) -> Void) async throws -> JSONValue
{
    var serviceOptions = NATSOptions(url: server.url)
    configure(&serviceOptions)
    let service = try await connectHemera(serviceOptions, options: hemeraOptions("svc"))
    try service.add(["topic": "secure", "cmd": "ping"]) { _, _ in "pong" }
    try await service.ready()
    var clientOptions = NATSOptions(url: server.url)
    configure(&clientOptions)
    let client = try await connectHemera(clientOptions, options: hemeraOptions("cli"))
    let reply = try await client.act(["topic": "secure", "cmd": "ping"])
    await client.close()
    await service.close()
    return reply
}

private func expectRefused(_ server: NATSTestServer, _ configure: (inout NATSOptions) -> Void) async {
    var options = NATSOptions(url: server.url)
    options.allowReconnect = false
    configure(&options)
    await #expect(throws: NATSError.self) { try await NATSConnection.connect(options, logger: quietLogger("bad")) }
}

extension Reliability {
    @Suite("Security: authentication, TLS, permissions, no stack traces, max payload", .timeLimit(.minutes(1)))
    struct HemeraSecurityTests {
        @Test func userPassword() async throws {
            var configuration = NATSServerConfiguration()
            configuration.user = "svc"
            configuration.password = "pw-123"
            try await withNATSServer(configuration) { server in
                let reply = try await pingRoundTrip(server) {
                    $0.authentication = .userPassword(user: "svc", password: "pw-123")
                }
                #expect(reply == "pong")
                await expectRefused(server) { $0.authentication = .userPassword(user: "svc", password: "wrong") }
                await expectRefused(server) { _ in }
            }
        }

        @Test func token() async throws {
            var configuration = NATSServerConfiguration()
            configuration.token = "tok-456"
            try await withNATSServer(configuration) { server in
                let reply = try await pingRoundTrip(server) { $0.authentication = .token("tok-456") }
                #expect(reply == "pong")
                await expectRefused(server) { $0.authentication = .token("nope") }
            }
        }

        @Test func nkey() async throws {
            var configuration = NATSServerConfiguration()
            configuration.nkeyUser = NATSTestKeys.userPublicKey
            try await withNATSServer(configuration) { server in
                let seedFile = try NATSTestKeys.writeSeedFile(in: server.directory)
                let reply = try await pingRoundTrip(server) {
                    $0.authentication = .nkey(publicKey: NATSTestKeys.userPublicKey, seedFile: seedFile)
                }
                #expect(reply == "pong")
                await expectRefused(server) { _ in }
            }
        }

        @Test func tlsWithGeneratedCA() async throws {
            try await withNATSTestCertificates { certificates in
                var configuration = NATSServerConfiguration()
                configuration.tls = certificates.serverTLS()
                try await withNATSServer(configuration) { server in
                    let reply = try await pingRoundTrip(server) {
                        $0.tls = .init(
                            caFile: certificates.caFile,
                            clientCertificateFile: certificates.clientCertificateFile,
                            clientKeyFile: certificates.clientKeyFile,
                            expectedHostname: "localhost"
                        )
                    }
                    #expect(reply == "pong")
                    // A client without the CA does not trust the server.
                    await expectRefused(server) {
                        $0.tls = .init(
                            clientCertificateFile: certificates.clientCertificateFile,
                            clientKeyFile: certificates.clientKeyFile
                        )
                    }
                }
            }
        }

        @Test("A permission violation is a typed PermissionDeniedError, not a timeout")
        func permissionViolation() async throws {
            var configuration = NATSServerConfiguration()
            configuration.extraConfiguration = """
                authorization {
                  users = [
                    { user: svc, password: svc, permissions: { publish: ">", subscribe: ">" } }
                    { user: cli, password: cli, permissions: { publish: { allow: [">"], deny: ["secret.>", "secret"] }, subscribe: ">" } }
                  ]
                }
                """
            try await withNATSServer(configuration) { server in
                var serviceOptions = NATSOptions(url: server.url)
                serviceOptions.authentication = .userPassword(user: "svc", password: "svc")
                let service = try await connectHemera(serviceOptions, options: hemeraOptions("svc"))
                try service.add(["topic": "secret", "cmd": "get"]) { _, _ in "classified" }
                try service.add(["topic": "open", "cmd": "get"]) { _, _ in "public" }
                try await service.ready()
                var clientOptions = NATSOptions(url: server.url)
                clientOptions.authentication = .userPassword(user: "cli", password: "cli")
                let client = try await connectHemera(clientOptions, options: hemeraOptions("cli"))
                let open = try await client.act(["topic": "open", "cmd": "get"])
                #expect(open == "public")
                let clock = ContinuousClock()
                let start = clock.now
                // The first refusal ends the call as soon as the server reports it, not at its timeout.
                let error = await #expect(throws: HemeraError.self) {
                    try await client.act(["topic": "secret", "cmd": "get"], timeout: .seconds(10))
                }
                #expect(error?.name == .permissionDenied, "\(String(describing: error))")
                #expect(clock.now - start < Duration.seconds(2).scaledForTests)
                // Known refusals fail at once afterwards.
                let again = await #expect(throws: HemeraError.self) {
                    try await client.act(["topic": "secret", "cmd": "get"], timeout: .seconds(2))
                }
                #expect(again?.name == .permissionDenied)
                print("permission violation surfaced after \(clock.now - start) (two calls)")
                await client.close()
                await service.close()
            }
        }

        @Test("Error replies carry no stack trace by default")
        func noStackTracesOnTheWire() async throws {
            try await withNATSServer { server in
                let service = try await connectHemera(NATSOptions(url: server.url), options: hemeraOptions("svc"))
                try service.add(["topic": "boom", "cmd": "fail"]) { _, _ in
                    throw HemeraError(name: "Boom", message: "failed", extra: ["stack": "at secret.swift:42"])
                }
                try await service.ready()
                let raw = try await NATSConnection.connect(NATSOptions(url: server.url))
                let reply = try await raw.request(
                    to: "boom",
                    payload: Array(
                        #"{"pattern":{"topic":"boom","cmd":"fail"},"meta":{},"request":{"id":"1","type":"request"},"trace":{}}"#
                            .utf8
                    ),
                    timeout: .seconds(2)
                )
                let text = String(decoding: reply.payload, as: UTF8.self)
                #expect(text.contains(#""name":"Boom""#))
                #expect(!text.contains("stack") && !text.contains("secret.swift"), "\(text)")
                await raw.close()
                await service.close()
            }
        }

        @Test("Payloads over the server's max payload give a clear, typed error both ways")
        func maxPayload() async throws {
            var configuration = NATSServerConfiguration()
            configuration.maxPayload = 4096
            try await withNATSServer(configuration) { server in
                let service = try await connectHemera(NATSOptions(url: server.url), options: hemeraOptions("svc"))
                try service.add(["topic": "big", "cmd": "echo"]) { pattern, _ in pattern["data"] ?? .null }
                try service.add(["topic": "big", "cmd": "make"]) { _, _ in
                    .string(String(repeating: "x", count: 10_000))
                }
                try await service.ready()
                let client = try await connectHemera(NATSOptions(url: server.url), options: hemeraOptions("cli"))
                let request = await #expect(throws: HemeraError.self) {
                    try await client.act([
                        "topic": "big", "cmd": "echo", "data": .string(String(repeating: "y", count: 5000)),
                    ])
                }
                #expect(request?.name == .payloadTooLarge, "\(String(describing: request))")
                #expect(request?.message.contains("maximum payload") == true)
                let reply = await #expect(throws: HemeraError.self) {
                    try await client.act(["topic": "big", "cmd": "make"], timeout: .seconds(2))
                }
                #expect(reply?.name == .payloadTooLarge, "\(String(describing: reply))")
                let small = try await client.act(["topic": "big", "cmd": "echo", "data": "small"])
                #expect(small == "small")
                await client.close()
                await service.close()
            }
        }
    }
}
