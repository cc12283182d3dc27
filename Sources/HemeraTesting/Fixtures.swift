internal import Foundation

/// A fixed NKey user for tests (Debian ships no nkey tools). Never use it outside tests.
public enum NATSTestKeys {
    /// The public key of the test user, for ``NATSServerConfiguration/nkeyUser``.
    public static let userPublicKey = "UAB2CB576PHBBPQ5ODORRZ2LYCMWPZGWGCN2KDK7DXOIMZASKUY3RLKK"
    /// The seed of the test user (made from the bytes 0...31).
    public static let userSeed = "SUAAAAICAMCAKBQHBAEQUCYMBUHA6EARCIJRIFIWC4MBSGQ3DQOR4H776Y"

    /// Writes ``userSeed`` to a file in `directory` and returns its path (cnats reads seeds from files).
    public static func writeSeedFile(in directory: String) throws -> String {
        let path = "\(directory)/user.nk"
        try self.userSeed.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with `openssl`.
public struct NATSTestCertificates: Sendable {
    /// The CA certificate.
    public var caFile: String
    /// The server certificate (SAN: IP 127.0.0.1, DNS localhost).
    public var serverCertificateFile: String
    /// The server key.
    public var serverKeyFile: String
    /// A client certificate signed by the CA.
    public var clientCertificateFile: String
    /// The client key.
    public var clientKeyFile: String

    /// Generates fresh certificates into `directory` with the `openssl` command.
    public static func generate(in directory: String) throws -> NATSTestCertificates {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { "\(directory)/\(name)" }
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hemera-test-ca",
            "-keyout", path("ca.key"), "-out", path("ca.pem"),
        ])
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(
            toFile: path("server.ext"),
            atomically: true,
            encoding: .utf8
        )
        try "extendedKeyUsage=clientAuth\n".write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
            try openssl([
                "req", "-newkey", "rsa:2048", "-nodes", "-subj",
                "/CN=\(name == "server" ? "localhost" : "hemera-client")",
                "-keyout", path("\(name).key"), "-out", path("\(name).csr"),
            ])
            try openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-days", "1", "-extfile", path(ext), "-out", path("\(name).pem"),
            ])
        }
        return NATSTestCertificates(
            caFile: path("ca.pem"),
            serverCertificateFile: path("server.pem"),
            serverKeyFile: path("server.key"),
            clientCertificateFile: path("client.pem"),
            clientKeyFile: path("client.key")
        )
    }
}

extension NATSTestCertificates {
    /// The server side of these certificates: ``serverCertificateFile`` and ``serverKeyFile``, with
    /// ``caFile`` to verify clients when `verifyClients` is true.
    ///
    /// - Parameter verifyClients: Whether the server requires a client certificate signed by the CA.
    /// - Returns: A value for ``NATSServerConfiguration/tls``.
    public func serverTLS(verifyClients: Bool = true) -> NATSServerConfiguration.TLS {
        NATSServerConfiguration.TLS(
            certificateFile: self.serverCertificateFile,
            keyFile: self.serverKeyFile,
            caFile: verifyClients ? self.caFile : nil,
            verifyClients: verifyClients
        )
    }
}

/// Runs `body` with freshly generated ``NATSTestCertificates`` in a new temporary directory, and
/// removes the directory afterwards, also when `body` throws.
///
/// The `openssl` subprocesses run on a thread of their own, not on one of the few cooperative
/// threads that tests running in parallel need.
///
/// ```swift
/// try await withNATSTestCertificates { certificates in
///     var configuration = NATSServerConfiguration()
///     configuration.tls = certificates.serverTLS()
///     try await withNATSServer(configuration) { server in
///         var options = NATSOptions(url: server.url)
///         options.tls = .init(
///             caFile: certificates.caFile,
///             clientCertificateFile: certificates.clientCertificateFile,
///             clientKeyFile: certificates.clientKeyFile,
///             expectedHostname: "localhost"
///         )
///         ...
///     }
/// }
/// ```
///
/// - Parameter body: The test, given the certificates' paths.
/// - Returns: What `body` returns.
/// - Throws: ``NATSTestServerError`` when `openssl` fails, or what `body` throws.
public func withNATSTestCertificates<Result>(
    _ body: (NATSTestCertificates) async throws -> Result
) async throws -> Result {
    let directory = NSTemporaryDirectory() + "hemera-tls-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let generated = await withCheckedContinuation {
        (continuation: CheckedContinuation<Swift.Result<NATSTestCertificates, any Error>, Never>) in
        Thread.detachNewThread {
            continuation.resume(returning: Swift.Result { try NATSTestCertificates.generate(in: directory) })
        }
    }
    return try await body(generated.get())
}

private func openssl(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let output = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw NATSTestServerError("openssl \(arguments.first ?? "") failed: \(String(decoding: output, as: UTF8.self))")
    }
}
