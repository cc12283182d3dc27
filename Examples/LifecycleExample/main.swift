// A Hemera service run by a swift-service-lifecycle ServiceGroup: SIGTERM or SIGINT start a
// graceful close (no new requests, in-flight handlers finish and reply, then the connection
// drains). Used by the SIGTERM test in HemeraReliabilityTests.
//
//   HemeraLifecycleExample nats://127.0.0.1:4222 [handler delay in ms] [app name]
import Hemera
import HemeraNATS
import HemeraServiceLifecycle
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// Serves `topic: lifecycle, cmd: work` until SIGTERM or SIGINT, then closes gracefully.
func serve(url: String, delay: Int, app: String) async throws {
    var logger = Logger(label: app)
    logger.logLevel = .error
    let hemera = try await Hemera.connect(url: url, options: HemeraOptions(app: app, logger: logger))
    // Echoes `n` with the instance's name after `delay` milliseconds.
    try hemera.add(["topic": "lifecycle", "cmd": "work"]) { pattern, _ in
        if delay > 0 { try await Task.sleep(for: .milliseconds(delay)) }
        return ["n": pattern["n"] ?? .null, "by": .string(app)]
    }
    try await hemera.ready()
    say("serving \(app)")
    let group = ServiceGroup(
        services: [HemeraService(hemera)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    )
    try await group.run()
    say("closed \(app)")
}

/// Writes a line to standard output at once (unbuffered: the test reads it while we run).
func say(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
}

let arguments = CommandLine.arguments
try await serve(
    url: arguments.count > 1 ? arguments[1] : "nats://127.0.0.1:4222",
    delay: arguments.count > 2 ? Int(arguments[2]) ?? 0 : 0,
    app: arguments.count > 3 ? arguments[3] : "lifecycle-example"
)
// Releases cnats' threads and pools once the connection is gone, so LeakSanitizer sees a clean
// exit under `make test-asan`; a failure here is reported, not fatal.
do {
    try await NATSLibrary.closeAndWait(timeout: .seconds(5))
} catch {
    say("cnats cleanup: \(error)")
}
