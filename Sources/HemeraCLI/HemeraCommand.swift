import ArgumentParser
import Hemera
import HemeraAppSupport
import HemeraNATS

/// `hemera`: call, publish to and benchmark Hemera services from the shell.
@main
struct HemeraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hemera",
        abstract: "Call, publish to and benchmark Hemera services over NATS.",
        discussion: """
            PATTERN is a JSON object or Hemera's short form, e.g.
              hemera act '{"topic":"math","cmd":"add","a":1,"b":2}'
              hemera act topic:math,cmd:add,a:1,b:2
            In the short form numbers are numbers, true/false Booleans, anything else a string.

            Exit codes:
              0   success (act: the result as JSON on stdout)
              1   the service answered with an error (act: the error as JSON on stderr)
              2   no responders: nothing subscribes to the pattern's topic (fails at once)
              3   timeout: no reply within --timeout
              4   cannot connect to NATS, or the connection closed
              64  bad usage (unparsable pattern, unknown option)
            """,
        subcommands: [
            ActCommand.self, PubCommand.self, BenchCommand.self, ServicesCommand.self, DescribeCommand.self,
            DocsCommand.self,
        ]
    )
}

/// The `hemera` exit codes (see the command's help).
enum ExitStatus {
    static let errorReply = ExitCode(1)
    static let noResponders = ExitCode(2)
    static let timeout = ExitCode(3)
    static let connection = ExitCode(4)
}

/// `--server`, shared by the subcommands.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "The NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222).")
    var server: String?

    var url: String { server ?? HemeraConnect.defaultURL }

    /// Connects (with `writeMode`, else the default send-asap), or prints why not and exits with
    /// ``ExitStatus/connection``.
    func connect(app: String, writeMode: NATSOptions.WriteMode? = nil) async throws -> Hemera {
        let options = HemeraOptions(app: app, logger: HemeraConnect.quietLogger(label: app))
        do {
            if let writeMode {
                return try await HemeraConnect.connect(url: url, options: options, writeMode: writeMode)
            }
            return try await HemeraConnect.connect(url: url, options: options)
        } catch {
            Console.err("hemera: cannot connect to \(url): \(error)")
            throw ExitStatus.connection
        }
    }
}

/// Parses PATTERN: a JSON object (starting with `{`) or the short form `k:v,...`.
func parsePattern(_ text: String) throws -> Pattern {
    let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\t" }
    let pattern: Pattern
    if trimmed.first == "{" {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: Array(trimmed.utf8))
        } catch {
            throw ValidationError("PATTERN is not valid JSON: \(error)")
        }
        do {
            pattern = try Pattern(json: json)
        } catch {
            throw ValidationError("PATTERN must be a JSON object")
        }
    } else {
        pattern = Pattern(short: String(trimmed))
    }
    guard let topic = pattern.topic, !topic.isEmpty else {
        throw ValidationError("PATTERN needs a string topic, e.g. topic:math,cmd:add,a:1,b:2")
    }
    return pattern
}

/// Maps a failed call to its message and exit code.
///
func failureExit(for error: any Error, topic: String, timeout: Duration) -> ExitCode {
    guard let error = error as? HemeraError else {
        Console.err("hemera: \(error)")
        return ExitStatus.connection
    }
    switch error.name {
    case .noResponders:
        Console.err("hemera: no responders: nothing subscribes to topic \"\(topic)\" (is the service running?)")
        return ExitStatus.noResponders
    case .timeout:
        Console.err("hemera: timeout: no reply on topic \"\(topic)\" within \(timeout.milliseconds) ms")
        return ExitStatus.timeout
    case .closed:
        Console.err("hemera: the connection closed: \(error.message)")
        return ExitStatus.connection
    default:
        Console.err(JSONText.render(error.wire(includeStack: true), firstKeys: JSONText.errorKeys))
        return ExitStatus.errorReply
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
