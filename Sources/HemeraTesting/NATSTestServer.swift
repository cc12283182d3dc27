internal import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a test nats-server should look like: authentication, TLS, limits, name.
public struct NATSServerConfiguration: Sendable {
    /// TLS files for the server.
    public struct TLS: Sendable {
        /// The server certificate (PEM).
        public var certificateFile: String
        /// The server's private key (PEM).
        public var keyFile: String
        /// A CA to verify client certificates with; set together with ``verifyClients``.
        public var caFile: String?
        /// Require and verify client certificates.
        public var verifyClients: Bool

        /// TLS with the given files.
        public init(certificateFile: String, keyFile: String, caFile: String? = nil, verifyClients: Bool = false) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.caFile = caFile
            self.verifyClients = verifyClients
        }
    }

    /// The server name (`--server_name`); a unique one is generated when nil.
    public var serverName: String?
    /// Require this user (with ``password``).
    public var user: String?
    /// The password of ``user``.
    public var password: String?
    /// Require this token.
    public var token: String?
    /// Accept only this NKey user (a public key starting with `U`), e.g. ``NATSTestKeys/userPublicKey``.
    public var nkeyUser: String?
    /// TLS, off when nil.
    public var tls: TLS?
    /// The maximum payload in bytes (`max_payload`), nats-server's 1 MiB default when nil.
    public var maxPayload: Int?
    /// More configuration file text, e.g. an `authorization` block with permissions.
    public var extraConfiguration: String?
    /// More command-line arguments for nats-server.
    public var extraArguments: [String] = []
    /// The nats-server executable; found on `PATH` (or `/usr/sbin`, `/usr/bin`) when nil.
    public var executable: String?

    /// The default: no authentication, no TLS.
    public init() {}
}

/// Errors of the test server harness.
public struct NATSTestServerError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, with the end of the server's log when useful.
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A nats-server process for tests, on 127.0.0.1 and a random port that stays the same across
/// ``restart()``.
///
/// ```swift
/// let server = NATSTestServer()
/// try await server.start()
/// defer { server.stop() }
/// // ... connect to server.url ...
/// server.stop()
/// try await server.start()   // same port: clients reconnect
/// ```
///
/// After each start, the harness reads the server's ID and port from its log, connects to the port
/// and checks that the INFO it receives carries the same server ID, so a test never talks to a
/// different server that happened to hold the port. Only the PID it started is ever signalled.
///
/// `@unchecked Sendable`: every mutable property is guarded by `lock`.
public final class NATSTestServer: @unchecked Sendable {
    /// The configuration.
    public let configuration: NATSServerConfiguration
    /// The server name (from the configuration or generated).
    public let serverName: String
    /// The directory for the config and log files.
    public let directory: String

    let lock = NSLock()
    var process: Process?
    var _port: Int?
    var _serverID = ""
    var _monitorPort: Int?
    var _clusterPort: Int?
    var starts = 0
    /// Cluster arguments set by ``NATSTestCluster``.
    var clusterArguments: [String] = []
    var clusterPortToUse: Int?

    /// A server that is not started yet.
    public init(_ configuration: NATSServerConfiguration = NATSServerConfiguration()) {
        self.configuration = configuration
        let unique = UUID().uuidString.prefix(8).lowercased()
        self.serverName = configuration.serverName ?? "hemera-test-\(unique)"
        self.directory = NSTemporaryDirectory() + "hemera-nats-\(unique)"
        try? FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    /// The client port (valid after the first start).
    public var port: Int { self.lock.withLock { self._port ?? 0 } }
    /// `nats://127.0.0.1:PORT` (`tls://` with TLS).
    public var url: String { "\(self.configuration.tls == nil ? "nats" : "tls")://127.0.0.1:\(self.port)" }
    /// The server ID from the log, checked against the INFO on the port.
    public var serverID: String { self.lock.withLock { self._serverID } }
    /// The HTTP monitoring port.
    public var monitorPort: Int? { self.lock.withLock { self._monitorPort } }
    /// The route port, in a cluster.
    public var clusterPort: Int? { self.lock.withLock { self._clusterPort } }
    /// The PID of the running server, nil when stopped.
    public var pid: Int32? {
        self.lock.withLock { self.process?.isRunning == true ? self.process?.processIdentifier : nil }
    }
    /// Whether the server runs.
    public var isRunning: Bool { self.pid != nil }
    /// The log of the current or last run.
    public var logFile: String { self.lock.withLock { "\(self.directory)/nats-\(self.starts).log" } }

    /// Whether a first start chose the ports that later starts re-bind.
    private var hasPorts: Bool { self.lock.withLock { self._port != nil } }

    /// Starts the server (again on the same port after a stop) and waits until it accepts clients.
    public func start(timeout: Duration = .seconds(10)) async throws {
        var (process, logFile) = try self.launch()
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        let needsRoutes = !self.clusterArguments.isEmpty
        while true {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            if log.contains("Server is ready") && (!needsRoutes || log.contains("Listening for route connections")) {
                try self.parse(log: log)
                break
            }
            if !process.isRunning {
                // A restart re-binds the ports of the first start. Between the stop and the restart
                // the kernel may have given one of them to an outgoing connection as its local port
                // (random listening ports and outgoing ones share the ephemeral range); such
                // connections are short-lived here, so try again until the deadline.
                if log.contains("address already in use") && self.hasPorts && clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    (process, logFile) = try self.launch()
                    continue
                }
                throw NATSTestServerError(
                    "nats-server exited with status \(process.terminationStatus):\n\(log.suffix(2000))"
                )
            }
            if clock.now > deadline {
                self.stop()
                throw NATSTestServerError("nats-server did not become ready in \(timeout):\n\(log.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let infoID = try readServerID(port: self.port)
        guard infoID == self.serverID else {
            self.stop()
            throw NATSTestServerError(
                "port \(self.port) answers with server \(infoID), not the started \(self.serverID)"
            )
        }
    }

    private func launch() throws -> (Process, String) {
        try self.lock.withLock {
            if self.process?.isRunning == true { throw NATSTestServerError("already running") }
            self.starts += 1
            let logFile = "\(self.directory)/nats-\(self.starts).log"
            var arguments = [
                "-a", "127.0.0.1", "-p", self._port.map(String.init) ?? "-1", "-n", self.serverName, "-l", logFile,
                // A new random monitoring port on every start: nothing needs it to stay the same.
                "-m", "-1",
            ]
            let configuration = self.configuration
            if let user = configuration.user { arguments += ["--user", user, "--pass", configuration.password ?? ""] }
            if let token = configuration.token { arguments += ["--auth", token] }
            if let tls = configuration.tls {
                arguments += ["--tls", "--tlscert", tls.certificateFile, "--tlskey", tls.keyFile]
                if tls.verifyClients { arguments += ["--tlsverify"] }
                if let ca = tls.caFile { arguments += ["--tlscacert", ca] }
            }
            var config = ""
            if let maxPayload = configuration.maxPayload { config += "max_payload: \(maxPayload)\n" }
            if let nkey = configuration.nkeyUser { config += "authorization { users = [ { nkey: \"\(nkey)\" } ] }\n" }
            if let extra = configuration.extraConfiguration { config += extra + "\n" }
            if !config.isEmpty {
                let path = "\(self.directory)/nats.conf"
                try config.write(toFile: path, atomically: true, encoding: .utf8)
                arguments += ["-c", path]
            }
            arguments += self.clusterArguments
            if let clusterPort = self._clusterPort {
                // Keep the route port on restart.
                if let index = arguments.firstIndex(of: "--cluster") {
                    arguments[index + 1] = "nats://127.0.0.1:\(clusterPort)"
                }
            }
            arguments += configuration.extraArguments
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try findExecutable(configuration.executable))
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process = process
            return (process, logFile)
        }
    }

    private func parse(log: String) throws {
        func value(after marker: String) -> String? {
            guard let range = log.range(of: marker, options: .backwards) else { return nil }
            let rest = log[range.upperBound...]
            return String(rest.prefix { !$0.isNewline && $0 != " " })
        }
        guard let id = value(after: "ID:       "), !id.isEmpty else { throw NATSTestServerError("no server ID in log") }
        guard let address = value(after: "Listening for client connections on "),
            let port = address.split(separator: ":").last.flatMap({ Int($0) })
        else { throw NATSTestServerError("no client port in log") }
        let monitor = value(after: "Starting http monitor on ").flatMap {
            $0.split(separator: ":").last.flatMap { Int($0) }
        }
        let route = value(after: "Listening for route connections on ").flatMap {
            $0.split(separator: ":").last.flatMap { Int($0) }
        }
        self.lock.withLock {
            self._serverID = id
            self._port = port
            self._monitorPort = monitor
            self._clusterPort = route
        }
    }

    /// Stops the server with SIGTERM and waits for it to exit. Does nothing when not running.
    public func stop() {
        self.signal(SIGTERM)
    }

    /// Kills the server with SIGKILL (no goodbye to clients or routes) and waits for it to exit.
    public func kill() {
        self.signal(SIGKILL)
    }

    private func signal(_ signal: Int32) {
        let process: Process? = self.lock.withLock {
            defer { self.process = nil }
            return self.process
        }
        guard let process, process.isRunning else { return }
        // Only the PID this harness started.
        _ = sendSignal(process.processIdentifier, signal)
        waitForExit(process)
    }

    /// Puts the server into lame duck mode (SIGUSR2): it tells clients and closes them gradually.
    public func enterLameDuckMode() {
        let process: Process? = self.lock.withLock { self.process }
        guard let process, process.isRunning else { return }
        _ = sendSignal(process.processIdentifier, SIGUSR2)
    }

    /// The number of client connections the server reports (`/connz`).
    public func connectionCount() throws -> Int {
        let body = try self.monitor("/connz")
        guard let range = body.range(of: "\"num_connections\":") else {
            throw NATSTestServerError("no num_connections in /connz")
        }
        return Int(body[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber }) ?? 0
    }

    /// Stops the server and starts it again on the same port.
    public func restart() async throws {
        self.stop()
        try await self.start()
    }

    /// Fetches a monitoring endpoint such as `/routez` or `/varz` (plain HTTP on 127.0.0.1).
    public func monitor(_ path: String) throws -> String {
        guard let port = self.monitorPort else { throw NATSTestServerError("no monitoring port") }
        return try httpGet(port: port, path: path)
    }
}

/// Runs `body` with a started test server and stops it afterwards, also when `body` throws.
///
/// ```swift
/// try await withNATSServer { server in
///     let connection = try await NATSConnection.connect(NATSOptions(url: server.url))
///     ...
/// }
/// ```
public func withNATSServer<Result>(
    _ configuration: NATSServerConfiguration = NATSServerConfiguration(),
    _ body: (NATSTestServer) async throws -> Result
) async throws -> Result {
    let server = NATSTestServer(configuration)
    defer { server.stop() }
    try await server.start()
    return try await body(server)
}

func findExecutable(_ explicit: String?) throws -> String {
    if let explicit { return explicit }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let candidate = "\(directory)/nats-server"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw NATSTestServerError("nats-server not found on PATH (Debian: apt-get install nats-server)")
}

/// Connects to 127.0.0.1:`port`, returns the socket.
func connectLocal(port: Int) throws -> Int32 {
    #if canImport(Darwin)
        let fd = socket(AF_INET, SOCK_STREAM, 0)
    #else
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #endif
    guard fd >= 0 else { throw NATSTestServerError("socket failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connectSocket(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard result == 0 else {
        close(fd)
        throw NATSTestServerError("cannot connect to 127.0.0.1:\(port)")
    }
    return fd
}

/// Reads bytes until `done` says so, EOF, or the receive timeout.
func readAll(_ fd: Int32, until done: (String) -> Bool) -> String {
    var data: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { break }
        data += buffer[0..<count]
        if done(String(decoding: data, as: UTF8.self)) { break }
    }
    return String(decoding: data, as: UTF8.self)
}

/// The `server_id` of the INFO line a NATS server sends first.
func readServerID(port: Int) throws -> String {
    let fd = try connectLocal(port: port)
    defer { close(fd) }
    let info = readAll(fd) { $0.contains("\r\n") }
    guard info.hasPrefix("INFO "), let range = info.range(of: "\"server_id\":\"") else {
        throw NATSTestServerError("no INFO from 127.0.0.1:\(port): \(info.prefix(200))")
    }
    return String(info[range.upperBound...].prefix { $0 != "\"" })
}

/// A plain HTTP/1.0 GET on 127.0.0.1, returning the body.
func httpGet(port: Int, path: String) throws -> String {
    let fd = try connectLocal(port: port)
    defer { close(fd) }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    let response = readAll(fd) { _ in false }
    guard let split = response.range(of: "\r\n\r\n") else { return response }
    return String(response[split.upperBound...])
}

/// Waits until `process` has exited.
///
/// Not `Process.waitUntilExit()`: on Linux, Foundation can miss a child's exit, leaving it a
/// zombie (`<defunct>`) with `isRunning` true, and `waitUntilExit()` then spins forever. Seen in
/// `make test-asan`: `NATSTestServer.stop()` spun 47 minutes on a cooperative-pool thread over a
/// defunct nats-server, which stalled every other test of the run. This also stops when the kernel
/// reports the process exited, and sends SIGKILL (to this PID only) after `timeout`.
func waitForExit(_ process: Process, timeout: Duration = .seconds(10)) {
    let pid = process.processIdentifier
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var killed = false
    while process.isRunning && !processHasExited(pid) {
        if !killed && clock.now >= deadline {
            _ = sendSignal(pid, SIGKILL)
            killed = true
        }
        usleep(2_000)
    }
}

/// Whether the process `pid` has exited, as the kernel sees it: a zombie not yet reaped, or gone.
/// Linux only (`/proc/<pid>/stat`); elsewhere `false`, and callers rely on `Process.isRunning`.
package func processHasExited(_ pid: Int32) -> Bool {
    #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // `pid (command) state ...`: the state follows the last `)` (the command may hold one).
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].first { $0 != " " }
        return state == "Z" || state == "X"
    #else
        return false
    #endif
}

/// `kill(2)`, named apart from ``NATSTestServer/kill()``.
func sendSignal(_ pid: pid_t, _ signal: Int32) -> Int32 {
    #if canImport(Darwin)
        return Darwin.kill(pid, signal)
    #elseif canImport(Musl)
        return Musl.kill(pid, signal)
    #else
        return Glibc.kill(pid, signal)
    #endif
}

/// `connect(2)`, named apart from other `connect` functions.
func connectSocket(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    #if canImport(Darwin)
        return Darwin.connect(fd, address, length)
    #elseif canImport(Musl)
        return Musl.connect(fd, address, length)
    #else
        return Glibc.connect(fd, address, length)
    #endif
}

/// A port of 127.0.0.1 where nothing listens, for as long as this value is kept: a socket is bound
/// to it but never listens, so connections are refused, and no server started meanwhile (another
/// test's, on a random port) can take it. A stopped server's port does not promise that: the
/// kernel may hand it to the next server that asks for a random port.
public final class ClosedPort: @unchecked Sendable {
    // `@unchecked Sendable`: both members are constants set in `init`; the socket is closed once,
    // in `deinit`.
    private let fd: Int32
    /// The port nothing listens on.
    public let port: Int
    /// `nats://127.0.0.1:port`.
    public var url: String { "nats://127.0.0.1:\(port)" }

    public init() throws {
        #if canImport(Darwin)
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { throw NATSTestServerError("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0 else {
            close(fd)
            throw NATSTestServerError("cannot bind a port of 127.0.0.1")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
