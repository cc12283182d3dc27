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
