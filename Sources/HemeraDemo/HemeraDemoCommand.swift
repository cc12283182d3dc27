import ArgumentParser
import Hemera
import HemeraAppSupport
import HemeraDemoGateway
import HemeraDemoServices
import HemeraNATS
import HemeraGateway
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
              hemera-demo serve gateway --server nats://127.0.0.1:4222 --port 8080 &
              hemera-demo tour --wait-for products,cart --gateway http://127.0.0.1:8080
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
    /// `serve gateway`: the gateway cannot listen on its port.
    static let listen = ExitCode(5)
}

/// Writes a line to standard output at once (the demo script interleaves several processes).
func say(_ line: String) { Console.out(line) }

/// Writes a line to standard error.
func complain(_ line: String) { Console.err(line) }

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs the named services until SIGTERM or SIGINT, then closes gracefully.",
        discussion: """
            Services: \(DemoService.allCases.map(\.rawValue).joined(separator: ", ")), and `gateway`: the \
            article's HTTP API on 127.0.0.1:--port, each route calling a service with act. On SIGTERM \
            or SIGINT the process stops taking requests, finishes the ones in flight and sends their \
            replies, drains the connection and exits 0. When the NATS connection closes for good (cnats \
            gave up reconnecting, e.g. the server refused the credentials twice in a row) it exits 4, so \
            a supervisor restarts it. Exit codes as `hemera`'s: 4 for a connection failure; 5 when the \
            gateway cannot listen on its port.
            """
    )

    @OptionGroup var options: ServerOptions

    @Argument(help: "The services to run: math, users, products, cart, gateway.")
    var services: [String]

    @Option(name: .long, help: "The gateway's HTTP port on 127.0.0.1 (0 picks a free one, printed when serving).")
    var port: Int = 8080

    @Option(
        name: .customLong("gateway-timeout"),
        help: "The gateway's timeout for each act, in milliseconds (default: Hemera's)."
    )
    var gatewayTimeout: Int?

    @Option(
        name: .customLong("handler-delay"),
        help:
            "Delay every request by this many milliseconds before its handler runs (to watch timeouts and graceful close)."
    )
    var handlerDelay: Int = 0

    func validate() throws {
        if services.isEmpty { throw ValidationError("name at least one service") }
        if handlerDelay < 0 { throw ValidationError("--handler-delay must be >= 0") }
        for name in services where DemoService(rawValue: name) == nil && name != "gateway" {
            throw ValidationError(UnknownService(name: name).description + " or gateway")
        }
        if !(0...65535).contains(port) { throw ValidationError("--port must be 0 to 65535") }
        if let gatewayTimeout, gatewayTimeout <= 0 { throw ValidationError("--gateway-timeout must be positive") }
    }

    func run() async throws {
        let list = services.compactMap(DemoService.init(rawValue:))
        let servesGateway = services.contains("gateway")
        let app = "hemera-demo/" + services.joined(separator: "+")
        // One Hemera instance per service, all on one connection: each is its own service in the
        // NATS services API (`$SRV`), named after it. The gateway alone needs one plain instance.
        func hemeraOptions(_ service: DemoService?) -> HemeraOptions {
            var hemeraOptions = HemeraOptions(
                app: app,
                logger: HemeraConnect.quietLogger(label: app),
                serverInterceptors: handlerDelay > 0 ? [Delay(milliseconds: handlerDelay)] : []
            )
            if let service { hemeraOptions.service = service.serviceOptions }
            return hemeraOptions
        }
        let connection: Hemera
        do {
            connection = try await HemeraConnect.connect(url: options.url, options: hemeraOptions(list.first))
        } catch {
            complain("hemera-demo: cannot connect to \(options.redactedURL): \(NATSRedaction.redact("\(error)"))")
            throw DemoExit.connection
        }
        let instances =
            [connection] + list.dropFirst().map { Hemera(transport: connection.transport, options: hemeraOptions($0)) }
        // Returns once the server has the subscriptions: "serving" means callable.
        for (service, hemera) in zip(list, instances) { try await DemoService.start([service], on: hemera) }
        if servesGateway {
            try await serveGateway(instances: instances, alongside: list)
            return
        }
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

extension Serve {
    /// Runs the gateway (and the services in `list`, already started) until SIGTERM or SIGINT:
    /// the HTTP server stops accepting, finishes the requests in flight, then Hemera closes.
    ///
    /// The gateway's acts go through the first instance, which owns the connection.
    func serveGateway(instances: [Hemera], alongside list: [DemoService]) async throws {
        let hemera = instances[0]
        let gateway = DemoGateway.gateway(
            hemera: hemera,
            logger: HemeraConnect.quietLogger(label: "hemera-demo/gateway"),
            timeout: gatewayTimeout.map { .milliseconds($0) }
        )
        let services = list.map(\.rawValue)
        do {
            try await gateway.run(host: "127.0.0.1", port: port, handlesSignals: true) { port in
                let also = services.isEmpty ? "" : " and \(services.joined(separator: ", "))"
                say("serving gateway on http://127.0.0.1:\(port)\(also) over \(options.redactedURL) (pid \(getpid()))")
            }
        } catch {
            complain("hemera-demo: the gateway cannot serve on 127.0.0.1:\(port): \(error)")
            await Self.close(instances)
            throw DemoExit.listen
        }
        let inFlight = instances.reduce(0) { $0 + $1.inFlightCount }
        say(
            "closing gateway\(list.isEmpty ? "" : " and \(list.map(\.rawValue).joined(separator: ", "))") (\(inFlight) in flight)"
        )
        await Self.close(instances)
        say("closed")
    }

    /// Closes the instances sharing the first one's connection, then the first, which owns it.
    static func close(_ instances: [Hemera]) async {
        await withTaskGroup(of: Void.self) { group in
            for hemera in instances.dropFirst() { group.addTask { await hemera.close() } }
        }
        await instances[0].close()
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

    @Option(
        name: .long,
        help: "The gateway's base URL (e.g. http://127.0.0.1:8080): the tour then also calls the HTTP API."
    )
    var gateway: String?

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
        say("")
        say("== direct acts over NATS")
        let summary = await Tour(hemera: hemera, print: { say($0) }).run()
        await hemera.close()
        var unexpected = summary.unexpected
        if let gateway {
            unexpected += await HTTPTour(baseURL: gateway, print: { say($0) }).run().unexpected
        }
        if !unexpected.isEmpty { throw DemoExit.failure }
    }
}
