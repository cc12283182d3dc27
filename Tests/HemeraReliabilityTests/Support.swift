import Foundation
import Hemera
import HemeraNATS
import HemeraTesting
import Logging
import Testing
import HemeraLocks

/// A logger that prints errors only (reconnects and kills log warnings on purpose here).
func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}

/// NATS options for fault tests: fast reconnects that never give up during the test.
func faultOptions(_ servers: [String], name: String) -> NATSOptions {
    var options = NATSOptions(servers: servers)
    options.name = name
    options.reconnectWait = .milliseconds(50)
    options.reconnectJitter = (.milliseconds(20), .milliseconds(100))
    options.maxReconnectAttempts = nil
    options.noRandomize = true
    options.pingInterval = .seconds(1)
    return options
}

/// A Hemera instance owning a connection made with `natsOptions`.
func connectHemera(_ natsOptions: NATSOptions, options: HemeraOptions) async throws -> Hemera {
    let connection = try await NATSConnection.connect(natsOptions, logger: options.logger)
    return Hemera(transport: NATSTransport(connection: connection), options: options, closeTransport: true)
}

func hemeraOptions(_ app: String, retry: RetryPolicy? = RetryPolicy()) -> HemeraOptions {
    var options = HemeraOptions(app: app, logger: quietLogger(app))
    options.retryPolicy = retry
    return options
}

/// What one act ended with.
enum Outcome: Sendable, Equatable {
    case success
    case failure(HemeraError.Name)
}

/// Acts and classifies the outcome; anything but a result or a ``HemeraError`` is a test failure.
func outcome(_ body: () async throws -> JSONValue) async -> (Outcome, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    do {
        _ = try await body()
        return (.success, clock.now - start)
    } catch let error as HemeraError {
        return (.failure(error.name), clock.now - start)
    } catch {
        return (.failure(HemeraError.Name(rawValue: "UntypedError: \(error)")), clock.now - start)
    }
}

/// Counts things across tasks.
final class Counter: Sendable {
    private let value = PthreadLock<[String: Int]>([:])
    func add(_ key: String, _ amount: Int = 1) { value.withLock { $0[key, default: 0] += amount } }
    subscript(_ key: String) -> Int { value.withLock { $0[key, default: 0] } }
    var all: [String: Int] { value.withLock { $0 } }
}

/// The parent of this target's suites: they run one after another (each is heavy: clusters,
/// subprocesses, floods), so they do not starve the timing-sensitive tests of other targets that
/// run in parallel with them on a 2-core machine.
@Suite(.serialized) enum Reliability {}
