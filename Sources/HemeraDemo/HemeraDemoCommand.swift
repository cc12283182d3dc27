import ArgumentParser
import Hemera
import HemeraAppSupport
import HemeraDemoServices
import HemeraNATS
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `hemera-demo`: the seed's services, each runnable as its own process, and the client tour.
@main
struct HemeraDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hemera-demo",
        abstract: "The seed's demo: math, users, products and cart services over NATS, and a client tour.",
        discussion: """
            Run each service as its own process, all against one nats-server, then the tour:
              hemera-demo serve products --server nats://127.0.0.1:4222 &
              hemera-demo serve cart --server nats://127.0.0.1:4222 &
              hemera-demo tour --wait-for products,cart
            `make demo` does all of it on a private nats-server.
            """,
        subcommands: [Serve.self, TourCommand.self]
    )
}

/// Options shared by the subcommands.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: "The NATS server URL (default: $NATS_URL, else nats://127.0.0.1:4222).")
    var server: String?

    var url: String { server ?? HemeraConnect.defaultURL }

    /// ``url`` with its credentials replaced, for output.
    var redactedURL: String { NATSRedaction.redact(url) }
}

/// The `hemera-demo` exit codes, the same as `hemera`'s for the same failures.
enum DemoExit {
    /// The tour saw unexpected results.
    static let failure = ExitCode.failure
    /// `tour --wait-for`: the services did not answer in time (no responders, as `hemera`'s 2).
    static let noAnswer = ExitCode(2)
    /// Cannot connect to NATS, or the connection closed for good.
    static let connection = ExitCode(4)
}

/// Writes a line to standard output at once (the demo script interleaves several processes).
func say(_ line: String) { Console.out(line) }

/// Writes a line to standard error.
func complain(_ line: String) { Console.err(line) }

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs the named services until SIGTERM or SIGINT, then closes gracefully.",
        discussion: """
            Services: \(DemoService.allCases.map(\.rawValue).joined(separator: ", ")). On SIGTERM or SIGINT \
            the process stops taking requests, finishes the ones in flight and sends their replies, \
            drains the connection and exits 0. When the NATS connection closes for good (cnats gave up \
            reconnecting, e.g. the server refused the credentials twice in a row) it exits 4, so a \
            supervisor restarts it. Exit codes as `hemera`'s: 4 for a connection failure.
            """
    )

    @OptionGroup var options: ServerOptions

    @Argument(help: "The services to run: math, users, products, cart.")
    var services: [String]

    @Option(
        name: .customLong("handler-delay"),
        help:
            "Delay every request by this many milliseconds before its handler runs (to watch timeouts and graceful close)."
    )
    var handlerDelay: Int = 0

    func validate() throws {
        if services.isEmpty { throw ValidationError("name at least one service") }
        if handlerDelay < 0 { throw ValidationError("--handler-delay must be >= 0") }
        for name in services where DemoService(rawValue: name) == nil {
            throw ValidationError(UnknownService(name: name).description)
        }
    }

    func run() async throws {
        let list = services.compactMap(DemoService.init(rawValue:))
        let app = "hemera-demo/" + list.map(\.rawValue).joined(separator: "+")
        // One Hemera instance per service, all on one connection: each is its own service in the
        // NATS services API (`$SRV`), named after it.
        func hemeraOptions(_ service: DemoService) -> HemeraOptions {
            var hemeraOptions = HemeraOptions(
                app: app,
                logger: HemeraConnect.quietLogger(label: app),
                serverInterceptors: handlerDelay > 0 ? [Delay(milliseconds: handlerDelay)] : []
            )
            hemeraOptions.service = service.serviceOptions
            return hemeraOptions
        }
        let connection: Hemera
        do {
            connection = try await HemeraConnect.connect(url: options.url, options: hemeraOptions(list[0]))
        } catch {
            complain("hemera-demo: cannot connect to \(options.redactedURL): \(NATSRedaction.redact("\(error)"))")
            throw DemoExit.connection
        }
        let instances =
            [connection] + list.dropFirst().map { Hemera(transport: connection.transport, options: hemeraOptions($0)) }
        // Returns once the server has the subscriptions: "serving" means callable.
        for (service, hemera) in zip(list, instances) { try await DemoService.start([service], on: hemera) }
        let names = list.map(\.rawValue).joined(separator: ", ")
        say("serving \(names) on \(options.redactedURL) (pid \(getpid()))")
        // The instances sharing the connection close first; the first owns it and closes it last.
        func closeAll(gracePeriod: Duration = .seconds(30)) async {
            await withTaskGroup(of: Void.self) { group in
                for hemera in instances.dropFirst() { group.addTask { await hemera.close(gracePeriod: gracePeriod) } }
            }
            await connection.close(gracePeriod: gracePeriod)
        }
        switch await HemeraConnect.waitForSignalOrConnectionLoss(connection) {
        case .signal(let signal):
            let inFlight = instances.reduce(0) { $0 + $1.inFlightCount }
            say("\(signal): closing \(names) (\(inFlight) in flight)")
            await closeAll()
            say("closed")
        case .connectionLost(let reason):
            // cnats gave up reconnecting (e.g. the server refused the credentials twice): this
            // process would never serve again, so it ends for its supervisor to restart it.
            complain("hemera-demo: the NATS connection closed for good: \(reason)")
            await closeAll(gracePeriod: .seconds(1))
            throw DemoExit.connection
        }
    }
}

/// Sleeps before each handler runs (`serve --handler-delay`).
struct Delay: HemeraServerInterceptor {
    var milliseconds: Int

    func preHandler(_ context: HemeraContext) async throws {
        try await Task.sleep(for: .milliseconds(milliseconds))
    }
}

struct TourCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tour",
        abstract: "Calls every service and prints each call and its result.",
        discussion:
            "Exits 0 when every call behaved as expected (including the expected errors), 1 otherwise, 2 when --wait-for services did not answer, 4 when NATS cannot be reached (as `hemera`)."
    )

    @OptionGroup var options: ServerOptions

    @Option(
        name: .customLong("wait-for"),
        help: "Comma-separated services to wait for before starting (e.g. math,users)."
    )
    var waitFor: String?

    @Option(name: .customLong("wait-timeout"), help: "How long to wait for them, in seconds.")
    var waitTimeout: Double = 30

    func validate() throws {
        if let waitFor {
            do { _ = try DemoService.parseList(waitFor) } catch { throw ValidationError("\(error)") }
        }
        if !(waitTimeout > 0) { throw ValidationError("--wait-timeout must be positive") }
    }

    func run() async throws {
        let hemera: Hemera
        do {
            hemera = try await HemeraConnect.connect(
                url: options.url,
                options: HemeraOptions(app: "hemera-demo/tour", logger: HemeraConnect.quietLogger(label: "tour"))
            )
        } catch {
            complain("hemera-demo: cannot connect to \(options.redactedURL): \(NATSRedaction.redact("\(error)"))")
            throw DemoExit.connection
        }
        if let waitFor {
            let services = try DemoService.parseList(waitFor)
            say("waiting for \(services.map(\.rawValue).joined(separator: ", ")) ...")
            do {
                try await DemoService.waitUntilAnswering(
                    services,
                    on: hemera,
                    timeout: .milliseconds(Int64(waitTimeout * 1000))
                )
            } catch {
                complain("hemera-demo: \(error)")
                await hemera.close()
                throw DemoExit.noAnswer
            }
        }
        let summary = await Tour(hemera: hemera, print: { say($0) }).run()
        await hemera.close()
        if !summary.unexpected.isEmpty { throw DemoExit.failure }
    }
}
