import Foundation
import Hemera
import HemeraAppSupport
import HemeraTesting
import ServiceLifecycle
import Synchronization
import Testing

@testable import ReadmeExamples

/// The package root, from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite("README examples")
struct ReadmeExamplesTests {
    /// `// README: title` … `// END` regions of the example sources.
    static func exampleSnippets() throws -> [String: String] {
        let directory = packageRoot.appendingPathComponent("Examples/ReadmeExamples")
        var snippets: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            var title: String?
            var lines: [Substring] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("// README: ") {
                    title = String(line.dropFirst("// README: ".count))
                    lines = []
                } else if line == "// END", let current = title {
                    snippets[current] = lines.joined(separator: "\n")
                    title = nil
                } else if title != nil {
                    lines.append(line)
                }
            }
        }
        return snippets
    }

    /// The ```swift blocks of a Markdown file of the package (docs/api.md by default).
    static func documentedBlocks(in path: String = "docs/api.md") throws -> [String] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" {
                current = []
            } else if current == [], line.hasPrefix("// Package.swift") {
                current = nil  // a manifest excerpt: compiled by a package of its own, not here
            } else if line == "```", let lines = current {
                blocks.append(lines.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test("docs/api.md shows exactly the code of Examples/ReadmeExamples")
    func docsMatchCompiledExamples() throws {
        let snippets = try Self.exampleSnippets()
        let blocks = try Self.documentedBlocks()
        #expect(snippets.count >= 8)
        for block in blocks {
            #expect(snippets.values.contains(block), "docs/api.md has a block not in the examples:\n\(block)")
        }
        for (title, snippet) in snippets {
            #expect(blocks.contains(snippet), "example \"\(title)\" is not in docs/api.md (or differs)")
        }
    }

    @Test("every Swift block of the DocC Getting Started article is compiled code of Examples/ReadmeExamples")
    func articleMatchesCompiledExamples() throws {
        let snippets = try Self.exampleSnippets()
        let blocks = try Self.documentedBlocks(in: "Sources/Hemera/Hemera.docc/GettingStarted.md")
        #expect(blocks.count >= 6)
        for block in blocks {
            #expect(snippets.values.contains(block), "GettingStarted.md has a block not in the examples:\n\(block)")
        }
    }

    @Test("every Swift block of README.md is compiled code of Examples/ReadmeExamples")
    func readmeMatchesCompiledExamples() throws {
        let snippets = try Self.exampleSnippets()
        let blocks = try Self.documentedBlocks(in: "README.md")
        #expect(!blocks.isEmpty)
        for block in blocks {
            #expect(snippets.values.contains(block), "README.md has a block not in the examples:\n\(block)")
        }
    }

    @Test("the examples run against a real nats-server")
    func examplesRun() async throws {
        try await withNATSServer { server in
            let failures = Mutex<[String]>([])
            let created = Mutex<[Int64]>([])
            let options = shopOptions { failure in failures.withLock { $0.append(failure) } }
            let hemera = try await HemeraConnect.connect(url: server.url, options: options)
            do {
                #expect(try await serveAndCallAdd(hemera) == 3)
                let details = try #require(try await rejectQuantitySix(hemera))
                #expect(details[0]?["path"] == ["quantity"])
                #expect(details[0]?["type"] == "number.max")
                #expect(try await untypedMultiply(hemera) == 42)
                #expect(try await shortForm(hemera) == 42)

                try hemera.add(ReserveAction())
                #expect(try await reserve(hemera, productId: 1) == "reserved")
                #expect(try await reserve(hemera, productId: 3).hasPrefix("out of stock"))

                #expect(try await countdown(hemera) == [3, 2, 1])

                try await orderEvents(hemera) { id in created.withLock { $0.append(id) } }
                let deadline = ContinuousClock.now + .seconds(5)
                while created.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(created.withLock { $0 } == [7])

                // guardedAdd registers AddAction again, with middleware: a pattern in use throws.
                #expect(hemera.remove("topic:math,cmd:add") == 1)
                #expect(try await guardedAdd(hemera) == 5)
                #expect(failures.withLock { $0 }.contains { $0.contains("OutOfStock") })
            } catch {
                await hemera.close()
                throw error
            }
            await hemera.close()
        }
    }

    @Test("the service, connecting and typed-event examples run against a real nats-server")
    func serviceConnectAndEventExamples() async throws {
        var configuration = NATSServerConfiguration()
        configuration.user = "inventory"
        configuration.password = "s3cret"
        try await withNATSServer(configuration) { server in
            let url = "nats://inventory:s3cret@127.0.0.1:\(server.port)"
            let group = try await inventoryService(url: url, logger: HemeraConnect.quietLogger(label: "inventory"))
            let running = Task { try await group.run() }
            let client = try await connectInventory(servers: [server.url], password: "s3cret", caFile: nil)
            var answer = 0
            for _ in 0..<100 {  // until the service's subscription reached the server
                do {
                    answer = try await client.act(CountStock(sku: "001"))
                    break
                } catch let error as HemeraError where error.name == .noResponders {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(answer == 12)
            let created = Mutex<[Int]>([])
            try await typedOrderEvents(client) { id in created.withLock { $0.append(id) } }
            let deadline = ContinuousClock.now + .seconds(5)
            while created.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(created.withLock { $0 } == [7])
            await group.triggerGracefulShutdown()
            try await running.value
            await client.close()
        }
    }

    @Test("the middleware rejects a call without a token")
    func middlewareRejects() async throws {
        try await withNATSServer { server in
            let service = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "service"))
            let client = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "client"))
            try service.add(AddAction(), options: AddOptions(middleware: [requireToken]))
            try await service.ready()
            let error = await expectHemeraError { try await client.act(Add(a: 1, b: 1)) }
            #expect(error?.name == "Unauthorized")
            #expect(error?.codeString == "E_AUTH")
            await client.close()
            await service.close()
        }
    }

    @Test("the busy-service example answers on a coalesced connection and closes")
    func busyService() async throws {
        try await withNATSServer { server in
            let service = try await startBusyService(url: server.url)
            let client = try await HemeraConnect.connect(url: server.url, options: quietOptions(app: "client"))
            // Sixty-four calls at once: their replies leave the coalesced connection together.
            let sums = try await withThrowingTaskGroup(of: Int.self) { group in
                for n in 0..<64 { group.addTask { try await client.act(Add(a: n, b: 1)) } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(sums.sorted() == Array(1...64))
            await client.close()
            await service.close()
        }
    }

    @Test("the in-memory example")
    func inMemory() async throws {
        #expect(try await unitTestAdd() == 3)
    }
}
