import ArgumentParser
import Hemera
import HemeraAppSupport

/// `hemera sub`: prints what arrives on a topic, as `nats sub` does, without ever answering.
struct SubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sub",
        abstract: "Prints the Hemera messages that arrive on a topic or pattern, one JSON line each.",
        discussion: """
            Subscribes to the pattern's topic (NATS wildcards allowed: topic:orders.*) outside any \
            queue group, so it sees every request and publish without taking them from services and \
            without answering. Keys besides topic filter the messages (type-strict, as matching). \
            Each line is the message's pattern, or with --envelope the whole message (pattern, meta, \
            request, trace) and its subject. Stops after --count messages, or on SIGINT/SIGTERM.
            """
    )

    @OptionGroup var options: ServerOptions

    @Flag(help: "Print the whole message (subject, pattern, meta, delegate, request, trace), not just its pattern.")
    var envelope = false

    @Option(help: "Exit after this many messages.")
    var count: Int?

    @Flag(help: "Indent the JSON output.")
    var pretty = false

    @Argument(help: "The topic or pattern: topic:orders, topic:orders,cmd:created, or JSON.")
    var pattern: String

    func validate() throws {
        _ = try parsePattern(pattern)
        if let count, count <= 0 { throw ValidationError("--count must be positive") }
    }

    func run() async throws {
        let pattern = try parsePattern(pattern)
        let topic = pattern.topic ?? ""
        let filter = pattern.keys.filter { $0.key != "topic" }
        let hemera = try await options.connect(app: "hemera-cli")
        let (lines, continuation) = AsyncStream<String>.makeStream()
        let subscription = try hemera.transport.subscribe(to: topic, queue: nil) { message in
            if let line = Self.line(for: message, filter: filter, envelope: envelope, pretty: pretty) {
                continuation.yield(line)
            }
        }
        try await hemera.ready()
        Console.err("listening on \(topic)\(filter.isEmpty ? "" : " for \(JSONText.render(.object(filter)))")")
        let limit = count
        let printer = Task {
            var printed = 0
            for await line in lines {
                Console.out(line)
                printed += 1
                if let limit, printed >= limit { return }
            }
        }
        let stopper = Task {
            let signal = await TerminationSignal.wait()
            Console.err("\(signal): stopping")
            continuation.finish()
        }
        await printer.value
        stopper.cancel()
        try? subscription.unsubscribe()
        continuation.finish()
        await hemera.close()
    }

    /// The line printed for `message`, or `nil` when it does not match `filter`.
    static func line(
        for message: TransportMessage,
        filter: [String: JSONValue],
        envelope: Bool,
        pretty: Bool
    ) -> String? {
        guard let json = try? JSONValue(parsing: message.payload), case .object(var members) = json else {
            // Not a Hemera message: shown as text when the whole message is asked for.
            guard envelope, filter.isEmpty else { return nil }
            let text = JSONValue.string(String(decoding: message.payload, as: UTF8.self))
            return JSONText.render(["subject": .string(message.subject), "raw": text], pretty: pretty)
        }
        let received = members["pattern"]?.objectValue ?? [:]
        for (key, expected) in filter {
            guard let value = received[key], Self.equal(expected, value) else { return nil }
        }
        guard envelope else { return JSONText.render(.object(received), pretty: pretty) }
        members["subject"] = .string(message.subject)
        if let replyTo = message.replyTo { members["replyTo"] = .string(replyTo) }
        return JSONText.render(.object(members), pretty: pretty, firstKeys: ["subject", "pattern"])
    }

    /// Type-strict equality, with `1` equal to `1.0` (as Hemera's matching).
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.integer(let x), .double(let y)), (.double(let y), .integer(let x)): return Double(x) == y
        default: return a == b
        }
    }
}
