import Testing

@testable import Hemera

private struct AddItem: HemeraPattern, HemeraValidatable {
    static let topic = "basket"
    static let cmd: String? = "addItem"
    typealias Reply = Int
    var quantity: Int
    static let rules: [ValidationRule<AddItem>] = [.range("quantity", \.quantity, 0...5)]
}

private struct Boom: Error {}

@Suite("NATS services API ($SRV, ADR-32)")
struct ServicesTests {
    private func basket(_ env: Env, name: String = "basket", version: String = "1.2.3") async throws -> Hemera {
        let service = try await env.hemera(app: "basket-app") { options in
            options.service = HemeraServiceOptions(name: name, version: version, description: "A basket")
        }
        try service.add(AddItem.self) { request, _ in
            if request.quantity == 4 { throw Boom() }
            return request.quantity
        }
        try service.add("topic:basketNews,cmd:news,pubsub$:true") { _, _ in .null }
        try await service.ready()
        return service
    }

    @Test(arguments: allKinds) func pingInfoAndStatsDescribeTheService(kind: TransportKind) async throws {
        try await withEnv(kind) { env in
            let service = try await basket(env)
            let client = try await env.hemera(app: "client")

            let pings = try await client.pingServices(timeout: .milliseconds(300))
            #expect(pings.map(\.name) == ["basket"])
            #expect(pings.first?.type == "io.nats.micro.v1.ping_response")
            #expect(pings.first?.version == "1.2.3")
            #expect(pings.first?.id == service.serviceID)

            let info = try #require(try await client.serviceInfos(timeout: .milliseconds(300)).first)
            #expect(info.type == "io.nats.micro.v1.info_response")
            #expect(info.description == "A basket")
            #expect(info.endpoints?.map(\.name) == ["basket_addItem", "basketNews_news"])
            let add = try #require(info.endpoints?.first)
            #expect(add.subject == "basket")
            #expect(add.queueGroup == "queue.basket")
            #expect(add.metadata?["pattern"] == #"{"cmd":"addItem","topic":"basket"}"#)
            #expect(add.metadata?["pattern_short"] == "cmd:addItem,topic:basket")
            #expect(add.requestSchema?["properties"]?["quantity"] == ["type": "integer", "minimum": 0, "maximum": 5])
            #expect(add.pattern == ["cmd": "addItem", "topic": "basket"])
            let news = try #require(info.endpoints?.last)
            #expect(news.queueGroup == nil)
            #expect(news.metadata?["pubsub"] == "true")

            // One success, one validation failure, one handler error: three requests, two errors.
            #expect(try await client.act(AddItem(quantity: 2)) == 2)
            #expect(await hemeraError { _ = try await client.act(AddItem(quantity: 6)) }?.name == .validation)
            #expect(await hemeraError { _ = try await client.act(AddItem(quantity: 4)) } != nil)

            let stats = try #require(try await client.serviceStats(timeout: .milliseconds(300)).first)
            #expect(stats.type == "io.nats.micro.v1.stats_response")
            #expect(stats.started.hasSuffix("Z") && stats.started.count == 30)
            let counted = try #require(stats.endpoints.first)
            #expect(counted.name == "basket_addItem")
            #expect(counted.numRequests == 3)
            #expect(counted.numErrors == 2)
            #expect(counted.lastError.hasPrefix("Error: "))
            #expect(counted.processingTime > 0)
            #expect(counted.averageProcessingTime == counted.processingTime / 3)
            #expect(stats.endpoints.last?.numRequests == 0)
        }
    }

    @Test(arguments: allKinds) func answersByNameAndByID(kind: TransportKind) async throws {
        // Replies are gathered for 1 s: 300 ms gathered none of the two baskets once, in a full
        // parallel run beside a build.
        try await withEnv(kind) { env in
            let first = try await basket(env)
            let second = try await basket(env)
            _ = try await basket(env, name: "other")
            let client = try await env.hemera(app: "client")
            #expect(try await client.pingServices(timeout: .seconds(1)).count == 3)
            let baskets = try await client.serviceReplies(.ping, name: "basket", timeout: .seconds(1))
            #expect(Set(baskets.compactMap { $0["id"]?.stringValue }) == [first.serviceID, second.serviceID])
            for verb in HemeraServicesVerb.allCases {
                let one = try await client.serviceReplies(
                    verb,
                    name: "basket",
                    id: second.serviceID,
                    timeout: .seconds(1)
                )
                #expect(one.map { $0["id"] } == [.string(second.serviceID)], "\(verb)")
            }
        }
    }

    @Test func instancesWithoutActionsAndClosedInstancesDoNotAnswer() async throws {
        try await withEnv(.nats) { env in
            let service = try await basket(env)
            _ = try await env.hemera(app: "only-acts")
            let client = try await env.hemera(app: "client")
            #expect(try await client.pingServices(timeout: .milliseconds(300)).map(\.name) == ["basket"])
            await service.close()
            #expect(try await client.pingServices(timeout: .milliseconds(300)).isEmpty)
        }
    }

    @Test func defaultNameIsTheAppMadeValid() async throws {
        let hemera = Hemera(transport: InMemoryTransport(), options: HemeraOptions(app: "hemera-demo/math+users"))
        #expect(hemera.serviceName == "hemera-demo_math_users")
        await hemera.close()
    }

    @Test func invalidNamesAndVersionsAreRefused() async throws {
        for (name, version) in [("cart.v1", "1.0.0"), ("cart", "1.0"), ("", "1.0.0")] {
            var options = HemeraOptions()
            options.service = HemeraServiceOptions(name: name, version: version)
            let hemera = Hemera(transport: InMemoryTransport(), options: options)
            let error = await hemeraError { try hemera.add("topic:a") { _, _ in .null } }
            #expect(error?.name == .invalidOptions, "\(name) \(version)")
            #expect(hemera.actions.isEmpty)
            await hemera.close()
        }
        #expect(HemeraServiceOptions.isValidVersion("2.1.0-beta.1+build.5"))
        #expect(!HemeraServiceOptions.isValidVersion("01.0.0"))
    }

    @Test func endpointNamesAreValidAndUnique() async throws {
        let hemera = Hemera(transport: InMemoryTransport())
        try hemera.add("topic:a.b,cmd:do it") { _, _ in .null }
        try hemera.add("topic:a.b,cmd:do it,version:2") { _, _ in .null }
        // The same pattern again, in another queue group: a duplicate allowed on purpose.
        var again = AddOptions()
        again.allowsDuplicatePattern = true
        try hemera.add("topic:a.b,cmd:do it,queue$:other", options: again) { _, _ in .null }
        #expect(hemera.serviceEndpoints().map(\.name) == ["a_b_do_it", "a_b_do_it_version-2", "a_b_do_it_2"])
        await hemera.close()
    }

    @Test func servicesCanBeTurnedOff() async throws {
        try await withEnv(.nats) { env in
            let service = try await env.hemera(app: "silent") { $0.service.isEnabled = false }
            try service.add("topic:silent") { _, _ in .null }
            try await service.ready()
            let client = try await env.hemera(app: "client")
            #expect(try await client.pingServices(timeout: .milliseconds(300)).isEmpty)
        }
    }
}
