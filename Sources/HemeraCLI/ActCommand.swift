import ArgumentParser
import Hemera
import HemeraAppSupport

struct ActCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "act",
        abstract: "Calls a pattern and prints the result as JSON.",
        discussion: """
            Prints the result as JSON on stdout and exits 0. An error reply is printed as JSON on \
            stderr (name, message, code, details, hops) with exit code 1. No responders exits 2 at \
            once, a timeout exits 3, a connection failure 4.
            """
    )

    @OptionGroup var options: ServerOptions

    @Option(help: "How long to wait for the reply, in milliseconds.")
    var timeout: Int = 2000

    @Option(help: "Metadata sent with the call, as a JSON object.")
    var meta: String?

    @Flag(help: "Indent the JSON output.")
    var pretty = false

    @Option(
        name: .customLong("max-messages"),
        help: """
            Print every reply of a streamed call, one JSON line each, until N arrived, the stream             ended (Swift services end it when done) or --timeout passed (maxMessages$).
            """
    )
    var maxMessages: Int?

    @Argument(help: "The pattern: JSON, or the short form topic:math,cmd:add,a:1,b:2.")
    var pattern: String

    func validate() throws {
        _ = try parsePattern(pattern)
        _ = try parseMeta()
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if let maxMessages, maxMessages <= 0 { throw ValidationError("--max-messages must be positive") }
    }

    func parseMeta() throws -> [String: JSONValue] {
        guard let meta else { return [:] }
        guard let json = try? JSONValue(parsing: Array(meta.utf8)), case .object(let members) = json else {
            throw ValidationError("--meta must be a JSON object")
        }
        return members
    }

    func run() async throws {
        let pattern = try parsePattern(pattern)
        let meta = try parseMeta()
        let timeout = Duration.milliseconds(timeout)
        let hemera = try await options.connect(app: "hemera-cli")
        if let maxMessages {
            try await streamReplies(hemera, pattern: pattern, meta: meta, timeout: timeout, maxMessages: maxMessages)
            return
        }
        let outcome: Result<JSONValue, any Error>
        do {
            outcome = .success(try await hemera.act(pattern, meta: meta, timeout: timeout))
        } catch {
            outcome = .failure(error)
        }
        await hemera.close()
        switch outcome {
        case .success(let result):
            Console.out(JSONText.render(result, pretty: pretty))
        case .failure(let error):
            throw failureExit(for: error, topic: pattern.topic ?? "", timeout: timeout)
        }
    }
}

extension ActCommand {
    /// `--max-messages N`: each reply printed as it arrives; a stream that ends with fewer replies
    /// (or times out after some) is a success, no reply at all is a timeout.
    func streamReplies(
        _ hemera: Hemera,
        pattern: Pattern,
        meta: [String: JSONValue],
        timeout: Duration,
        maxMessages: Int
    ) async throws {
        var received = 0
        do {
            for try await reply in try hemera.actMany(pattern, meta: meta, timeout: timeout, maxMessages: maxMessages) {
                received += 1
                Console.out(JSONText.render(reply, pretty: pretty))
            }
        } catch {
            await hemera.close()
            throw failureExit(for: error, topic: pattern.topic ?? "", timeout: timeout)
        }
        await hemera.close()
        if received == 0 {
            throw failureExit(
                for: HemeraError(name: .timeout, message: "no reply"),
                topic: pattern.topic ?? "",
                timeout: timeout
            )
        }
    }
}

struct PubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pub",
        abstract: "Publishes a pattern (publish/subscribe act): no reply is awaited.",
        discussion: "Every pubsub subscriber of the topic gets it, and one member of each queue group."
    )

    @OptionGroup var options: ServerOptions

    @Option(help: "Metadata sent with the message, as a JSON object.")
    var meta: String?

    @Flag(name: .shortAndLong, help: "Print nothing on success.")
    var quiet = false

    @Argument(help: "The pattern: JSON, or the short form topic:orders,cmd:created,id:7.")
    var pattern: String

    func validate() throws {
        _ = try parsePattern(pattern)
        if let meta, (try? JSONValue(parsing: Array(meta.utf8)))?.objectValue == nil {
            throw ValidationError("--meta must be a JSON object")
        }
    }

    func run() async throws {
        let pattern = try parsePattern(pattern)
        let meta = meta.flatMap { try? JSONValue(parsing: Array($0.utf8)) }?.objectValue ?? [:]
        let hemera = try await options.connect(app: "hemera-cli")
        do {
            try await hemera.publish(pattern, meta: meta)
        } catch {
            await hemera.close()
            throw failureExit(for: error, topic: pattern.topic ?? "", timeout: .zero)
        }
        // close() flushes: the message reached the server when it returns.
        await hemera.close()
        if !quiet {
            Console.out("published to \(pattern.topic ?? ""): \(JSONText.render(.object(pattern.keys)))")
        }
    }
}
