import Foundation
import HemeraNATS
import HemeraTesting
import Testing

/// The independent client: nats-py, from `make interop-venv` (`make test` sets the variable).
private let interopPython = ProcessInfo.processInfo.environment["HEMERA_INTEROP_PYTHON"]

/// A small nats-py program. Modes:
/// - `respond SUBJECT COUNT`: answers COUNT requests with b"py:" + data and headers + {"py": "yes"}.
/// - `request SUBJECT`: sends one request with header k=v, prints `reply:<data>|<header swift>`.
/// - `subscribe SUBJECT COUNT`: prints `msg:<subject>|<data>|<header h>` for COUNT messages.
/// - `publish SUBJECT`: publishes "from-py" with header h=py-header.
/// Prints `ready` once subscribed.
private let interopScript = #"""
    import asyncio, sys
    import nats

    async def main():
        url, mode, subject = sys.argv[1], sys.argv[2], sys.argv[3]
        nc = await nats.connect(url)
        if mode == "respond":
            count = int(sys.argv[4])
            done = asyncio.Event()
            seen = 0
            async def handler(msg):
                nonlocal seen
                headers = dict(msg.headers or {})
                headers["py"] = "yes"
                await nc.publish(msg.reply, b"py:" + msg.data, headers=headers)
                seen += 1
                if seen == count:
                    done.set()
            await nc.subscribe(subject, cb=handler)
            await nc.flush()
            print("ready", flush=True)
            await asyncio.wait_for(done.wait(), 20)
            await nc.flush()
        elif mode == "request":
            msg = await nc.request(subject, b"from-py", timeout=5, headers={"k": "v"})
            print("reply:" + msg.data.decode() + "|" + (msg.headers or {}).get("swift", ""), flush=True)
        elif mode == "subscribe":
            count = int(sys.argv[4])
            sub = await nc.subscribe(subject)
            await nc.flush()
            print("ready", flush=True)
            for _ in range(count):
                msg = await sub.next_msg(timeout=10)
                print("msg:" + msg.subject + "|" + msg.data.decode() + "|" + (msg.headers or {}).get("h", ""), flush=True)
        elif mode == "publish":
            await nc.publish(subject, b"from-py", headers={"h": "py-header"})
            await nc.flush()
        await nc.drain()

    asyncio.run(main())
    """#

/// A running nats-py process whose stdout lines can be awaited.
private final class PythonClient: @unchecked Sendable {
    // @unchecked Sendable: `lines` is guarded by `lock`; `process` and `pipe` are set in init only.
    let process = Process()
    let pipe = Pipe()
    let errors = Pipe()
    private let lock = NSLock()
    private var lines: [String] = []
    private var buffer = Data()

    init(_ arguments: [String]) throws {
        self.process.executableURL = URL(fileURLWithPath: interopPython!)
        self.process.arguments = ["-c", interopScript] + arguments
        self.process.standardOutput = self.pipe
        self.process.standardError = self.errors
        self.pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock {
                self.buffer.append(data)
                while let newline = self.buffer.firstIndex(of: 10) {
                    self.lines.append(String(decoding: self.buffer[self.buffer.startIndex..<newline], as: UTF8.self))
                    self.buffer.removeSubrange(self.buffer.startIndex...newline)
                }
            }
        }
        try self.process.run()
    }

    var output: [String] { self.lock.withLock { self.lines } }

    /// Waits until `count` lines matching `prefix` were printed.
    func waitForLines(prefix: String, count: Int = 1, timeout: Duration = .seconds(15)) async throws -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while clock.now < deadline {
            let matching = self.output.filter { $0.hasPrefix(prefix) }
            if matching.count >= count { return matching }
            if !self.process.isRunning && self.output.filter({ $0.hasPrefix(prefix) }).count < count {
                try await Task.sleep(for: .milliseconds(50))  // let the last output arrive
                let last = self.output.filter { $0.hasPrefix(prefix) }
                if last.count >= count { return last }
                let stderr = String(decoding: self.errors.fileHandleForReading.availableData, as: UTF8.self)
                throw TestTimeout(
                    description: "python exited (\(self.process.terminationStatus)): \(self.output) \(stderr)"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestTimeout(description: "no \(count) '\(prefix)' lines from python: \(self.output)")
    }

    func stop() {
        self.pipe.fileHandleForReading.readabilityHandler = nil
        if self.process.isRunning { self.process.terminate() }
    }
}

@Suite("Interop with nats-py", .enabled(if: interopPython != nil, "set HEMERA_INTEROP_PYTHON (make test does)"))
struct InteropTests {
    @Test func swiftRequestsPythonResponds() async throws {
        try await withNATSServer { server in
            let python = try PythonClient([server.url, "respond", "py.echo", "3"])
            defer { python.stop() }
            _ = try await python.waitForLines(prefix: "ready")
            let connection = try await connect(server)
            for index in 0..<3 {
                var headers = NATSHeaders()
                headers["swift"] = "\(index)"
                let reply = try await connection.request(
                    to: "py.echo",
                    payload: Array("hi\(index)".utf8),
                    headers: headers,
                    timeout: .seconds(5)
                )
                #expect(String(decoding: reply.payload, as: UTF8.self) == "py:hi\(index)")
                #expect(reply.headers?["py"] == "yes")
                #expect(reply.headers?["swift"] == "\(index)")
            }
            await connection.close()
        }
    }

    @Test func pythonRequestsSwiftResponds() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let responder = try connection.subscribe(to: "swift.echo") { message in
                var headers = NATSHeaders()
                headers["swift"] = "yes:" + (message.headers?["k"] ?? "")
                do {
                    try connection.publish(
                        to: message.replyTo!,
                        payload: Array("swift:".utf8) + message.payload,
                        headers: headers
                    )
                } catch {
                    Issue.record("reply failed: \(error)")
                }
            }
            try await connection.flush(timeout: .seconds(2))
            let python = try PythonClient([server.url, "request", "swift.echo"])
            defer { python.stop() }
            let lines = try await python.waitForLines(prefix: "reply:")
            #expect(lines == ["reply:swift:from-py|yes:v"])
            withExtendedLifetime(responder) {}
            await connection.close()
        }
    }

    @Test func publishSubscribeBothWays() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            // Swift publishes, Python subscribes.
            let python = try PythonClient([server.url, "subscribe", "to.py", "2"])
            defer { python.stop() }
            _ = try await python.waitForLines(prefix: "ready")
            try connection.publish(to: "to.py", payload: Array("plain".utf8))
            try connection.publish(to: "to.py", payload: Array("with-header".utf8), headers: ["h": "swift-header"])
            try await connection.flush(timeout: .seconds(2))
            let lines = try await python.waitForLines(prefix: "msg:", count: 2)
            #expect(lines == ["msg:to.py|plain|", "msg:to.py|with-header|swift-header"])

            // Python publishes, Swift subscribes.
            let subscription = try connection.subscribe(to: "from.py")
            try await connection.flush(timeout: .seconds(2))
            let publisher = try PythonClient([server.url, "publish", "from.py"])
            defer { publisher.stop() }
            let message = try #require(try await collect(subscription, count: 1, timeout: .seconds(15)).first)
            #expect(message.payload == Array("from-py".utf8))
            #expect(message.headers?["h"] == "py-header")
            await connection.close()
        }
    }
}
