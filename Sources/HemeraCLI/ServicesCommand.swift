import ArgumentParser
import Hemera
import HemeraAppSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--timeout` of the discovery commands: how long replies are collected.
struct DiscoveryOptions: ParsableArguments {
    @Option(help: "How long to collect replies from the services, in milliseconds.")
    var timeout: Int = 500

    func validate() throws {
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
    }

    var duration: Duration { .milliseconds(timeout) }
}

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Lists every service that answers the NATS services API ($SRV.INFO).",
        discussion: """
            One line per service (name, versions, instances, description), then its endpoints: for a \
            Hemera service one per action, with its pattern, subject and queue group. Hemera services \
            and any other ADR-32 service (nats micro) are listed alike.
            """
    )

    @OptionGroup var options: ServerOptions
    @OptionGroup var discovery: DiscoveryOptions

    @Flag(help: "Print JSON: one object per service with its instances and endpoints.")
    var json = false

    func run() async throws {
        let hemera = try await options.connect(app: "hemera-cli")
        let infos: [HemeraServiceInfo]
        do {
            infos = try await hemera.serviceInfos(timeout: discovery.duration)
        } catch {
            await hemera.close()
            Console.err("hemera: services: \(error)")
            throw ExitStatus.connection
        }
        await hemera.close()
        let services = Dictionary(grouping: infos, by: \.name).sorted { $0.key < $1.key }
        if json {
            let list: [JSONValue] = services.map { name, instances in
                let sorted = instances.sorted { $0.id < $1.id }
                return [
                    "name": .string(name),
                    "description": .string(sorted.first?.description ?? ""),
                    "instances": .array(sorted.map { ["id": .string($0.id), "version": .string($0.version)] }),
                    "endpoints": .array(
                        (sorted.first?.endpoints ?? []).map { endpoint in
                            var entry: [String: JSONValue] = [
                                "name": .string(endpoint.name), "subject": .string(endpoint.subject),
                            ]
                            if let queue = endpoint.queueGroup { entry["queue_group"] = .string(queue) }
                            if let short = endpoint.metadata?["pattern_short"] { entry["pattern"] = .string(short) }
                            return .object(entry)
                        }
                    ),
                ]
            }
            Console.out(JSONText.render(.array(list), pretty: true, firstKeys: ["name", "description", "id"]))
            return
        }
        if services.isEmpty {
            Console.out("no services answered within \(discovery.timeout) ms")
            return
        }
        for (name, instances) in services {
            let versions = Set(instances.map(\.version)).sorted().joined(separator: ", ")
            let ids = instances.map(\.id).sorted().joined(separator: ", ")
            let description = instances.first?.description ?? ""
            Console.out(
                "\(name) \(versions)  \(instances.count) instance\(instances.count == 1 ? "" : "s") (\(ids))"
                    + (description.isEmpty ? "" : "  \(description)")
            )
            let endpoints = instances.first?.endpoints ?? []
            let width = endpoints.map(\.name.count).max() ?? 0
            for endpoint in endpoints {
                let short = endpoint.metadata?["pattern_short"] ?? ""
                let padded = endpoint.name + String(repeating: " ", count: width - endpoint.name.count)
                Console.out(
                    "  \(padded)  \(short.isEmpty ? "-" : short)  subject \(endpoint.subject)"
                        + (endpoint.queueGroup.map { ", queue \($0)" } ?? ", pubsub")
                )
            }
        }
    }
}

struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Prints one service's INFO and STATS, with each endpoint's request schema.",
        discussion: "Exits 1 when no instance of the service answers."
    )

    @OptionGroup var options: ServerOptions
    @OptionGroup var discovery: DiscoveryOptions

    @Flag(help: "Print JSON: {\"info\": [...], \"stats\": [...]}, the replies of every instance.")
    var json = false

    @Argument(help: "The service's name.")
    var name: String

    func validate() throws {
        if !HemeraServiceOptions.isValidName(name) {
            throw ValidationError("NAME may hold letters, digits, - and _ only (ADR-32)")
        }
    }

    func run() async throws {
        let hemera = try await options.connect(app: "hemera-cli")
        let info: [JSONValue]
        let stats: [JSONValue]
        do {
            info = try await hemera.serviceReplies(.info, name: name, timeout: discovery.duration)
            stats = try await hemera.serviceReplies(.stats, name: name, timeout: discovery.duration)
        } catch {
            await hemera.close()
            Console.err("hemera: describe: \(error)")
            throw ExitStatus.connection
        }
        await hemera.close()
        guard !info.isEmpty else {
            Console.err("hemera: no instance of \(name) answered within \(discovery.timeout) ms")
            throw ExitStatus.errorReply
        }
        let byID = { (list: [JSONValue]) in
            list.sorted { ($0["id"]?.stringValue ?? "") < ($1["id"]?.stringValue ?? "") }
        }
        if json {
            Console.out(
                JSONText.render(
                    ["info": .array(byID(info)), "stats": .array(byID(stats))],
                    pretty: true,
                    firstKeys: ["type", "name", "id", "version"]
                )
            )
            return
        }
        let decoder = HemeraJSONDecoder()
        let infos = try byID(info).map { try decoder.decode(HemeraServiceInfo.self, from: $0) }
        let counters = try stats.map { try decoder.decode(HemeraServiceStats.self, from: $0) }
        let first = infos[0]
        Console.out("\(first.name): \(first.description)")
        for instance in infos {
            let started = counters.first { $0.id == instance.id }?.started ?? "?"
            Console.out("  instance \(instance.id)  version \(instance.version)  started \(started)")
        }
        for endpoint in first.endpoints ?? [] {
            Console.out("")
            Console.out("\(endpoint.name)  \(endpoint.metadata?["pattern_short"] ?? "")")
            Console.out(
                "  subject \(endpoint.subject)" + (endpoint.queueGroup.map { ", queue \($0)" } ?? ", pubsub")
            )
            for instance in counters.sorted(by: { $0.id < $1.id }) {
                guard let counts = instance.endpoints.first(where: { $0.name == endpoint.name }) else { continue }
                Console.out(
                    "  \(instance.id): \(counts.numRequests) requests, \(counts.numErrors) errors, average "
                        + "\(formatNanoseconds(counts.averageProcessingTime))"
                        + (counts.lastError.isEmpty ? "" : ", last error: \(counts.lastError)")
                )
            }
            if let schema = endpoint.requestSchema {
                let properties = schema["properties"]?.objectValue ?? [:]
                let required = (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue)
                for key in ServicesReference.orderedKeys(properties, required: required) {
                    guard let property = properties[key], property["const"] == nil else { continue }
                    let rules = ServicesReference.rulesText(property)
                    Console.out(
                        "  \(key): \(ServicesReference.typeText(property))"
                            + (required.contains(key) ? "" : ", optional")
                            + (rules.isEmpty ? "" : ", " + rules.joined(separator: ", "))
                    )
                }
                Console.out("  request schema:")
                for line in JSONText.render(schema, pretty: true, firstKeys: ServicesReference.schemaKeys)
                    .split(separator: "\n")
                {
                    Console.out("    " + line)
                }
            }
        }
    }

    private func formatNanoseconds(_ value: Int64) -> String {
        if value >= 1_000_000 { return "\(Double(value / 1000) / 1000) ms" }
        if value >= 1000 { return "\(Double(value) / 1000) µs" }
        return "\(value) ns"
    }
}

struct DocsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Writes a Markdown reference of every running service and action.",
        discussion: """
            For each service that answers $SRV.INFO: its versions and description; for each action its \
            pattern, subject, queue group, parameters with their rules, an example request and the \
            JSON Schema of its request. The demo's reference is docs/services.md.
            """
    )

    @OptionGroup var options: ServerOptions
    @OptionGroup var discovery: DiscoveryOptions

    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
    var output: String?

    func run() async throws {
        let hemera = try await options.connect(app: "hemera-cli")
        let infos: [HemeraServiceInfo]
        do {
            infos = try await hemera.serviceInfos(timeout: discovery.duration)
        } catch {
            await hemera.close()
            Console.err("hemera: docs: \(error)")
            throw ExitStatus.connection
        }
        await hemera.close()
        let markdown = ServicesReference.markdown(infos)
        guard let output else {
            Console.out(markdown)
            return
        }
        guard let file = fopen(output, "w") else {
            Console.err("hemera: cannot write \(output)")
            throw ExitCode(1)
        }
        let bytes = Array(markdown.utf8)
        let written = fwrite(bytes, 1, bytes.count, file)
        fclose(file)
        guard written == bytes.count else {
            Console.err("hemera: writing \(output) failed")
            throw ExitCode(1)
        }
        Console.err("wrote \(output): \(infos.count) instance(s)")
    }
}
