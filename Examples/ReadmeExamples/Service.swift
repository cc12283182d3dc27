// README: a service with logging and graceful shutdown
import Hemera
import HemeraServiceLifecycle
import Logging
import ServiceLifecycle
import UnixSignals

struct CountStock: HemeraPattern {
    static let topic = "inventory"
    static let cmd: String? = "count"
    typealias Reply = Int

    var sku: String
}

/// The inventory service under a ServiceGroup: SIGTERM or SIGINT closes it gracefully (no new
/// requests, running handlers finish and reply, then the connection drains).
func inventoryService(url: String, logger: Logger) async throws -> ServiceGroup {
    let hemera = try await Hemera.connect(url: url, options: HemeraOptions(app: "inventory", logger: logger))
    try hemera.add(CountStock.self) { request, context in
        // Carries hemera.request.id, hemera.trace.id and hemera.pattern as metadata.
        context.logger.info("counting", metadata: ["sku": "\(request.sku)"])
        return request.sku == "001" ? 12 : 0
    }
    return ServiceGroup(
        services: [HemeraService(hemera)],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    )
}
// main.swift of the service: try await inventoryService(url: …, logger: Logger(label: "inventory")).run()
// END
