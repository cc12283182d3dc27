import CNats
import HemeraTesting
import Synchronization
import Testing

@testable import HemeraNATS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A message as cnats makes a received one (natsMsg_create, as its parser does): `block` as the
/// raw header block, then `payload`. cnats is opened first (destroying a message needs its GC).
private func receivedMessage(block: [UInt8], payload: [UInt8] = []) -> OpaquePointer {
    do {
        try NATSLibrary.openIfNeeded()
    } catch {
        preconditionFailure("cnats did not open: \(error)")
    }
    guard let functions = CNatsMessageLayout.functions else { preconditionFailure("not cnats 3.4.x") }
    var message: OpaquePointer?
    let buffer = block + payload
    let status = buffer.withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) { chars in
            functions.create(
                &message,
                "raw.test",
                8,
                nil,
                0,
                chars.baseAddress,
                Int32(buffer.count),
                Int32(block.count)
            )
        }
    }
    precondition(status == NATS_OK && message != nil, "natsMsg_create failed: \(status)")
    return message!
}

/// The block read by the raw parser, then by cnats' own functions (`natsMsgHeader_Keys`/`_Values`).
private func readBothWays(_ block: [UInt8], payload: [UInt8] = [1]) -> (raw: RawHeaderRead, cnats: NATSHeaders?) {
    let message = receivedMessage(block: block, payload: payload)
    defer { natsMsg_Destroy(message) }
    let raw = NATSHeaders.readRaw(from: message)
    return (raw, NATSHeaders(copyingFrom: message))
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func makeHeaders(_ pairs: [(String, String)]) -> NATSHeaders {
    var headers = NATSHeaders()
    for (name, value) in pairs { headers.append(value, for: name) }
    return headers
}

@Suite("Raw header blocks")
struct RawHeaderBlockTests {
    @Test func layoutIsUsedOnThisCNats() {
        #expect(CNatsMessageLayout.functions != nil, "cnats 3.4.x: the raw paths must be on")
    }

    /// Blocks the raw parser reads, each with what it must give; cnats' functions must agree.
    @Test(
        arguments: [
            ("NATS/1.0\r\nA: 1\r\n\r\n", [("A", "1")]),
            ("NATS/1.0\r\nHemera-Timeout: 5000\r\n\r\n", [("Hemera-Timeout", "5000")]),
            ("NATS/1.0\r\nA: 1\r\nB: x\r\nA: 2\r\n\r\n", [("A", "1"), ("A", "2"), ("B", "x")]),
            (
                "NATS/1.0\r\nA:   spaced  value \t \r\nB:\tx\r\nC:y\r\n\r\n",
                [("A", "spaced  value"), ("B", "x"), ("C", "y")]
            ),
            ("NATS/1.0\r\nA : 1\r\n\r\n", [("A ", "1")]),
            ("NATS/1.0\r\nk: v\r\nK: V\r\n\r\n", [("k", "v"), ("K", "V")]),
            ("NATS/1.0\r\nA: x:y: z\r\n\r\n", [("A", "x:y: z")]),
            ("NATS/1.0\r\nA: a\nb\rc\r\n\r\n", [("A", "a\nb\rc")]),
            ("NATS/1.0\r\nA: v\u{0B}\u{0C}\r\r\n\r\n", [("A", "v")]),
            ("NATS/1.0\r\nA: x-é-ü-y\r\n\r\n", [("A", "x-é-ü-y")]),
            ("NATS/1.0\r\nA: 1\r\n", [("A", "1")]),
            ("NATS/1.0 503\r\n\r\n", [("Status", "503")]),
            ("NATS/1.0   503\r\n\r\n", [("Status", "503")]),
            ("NATS/1.0 503 \r\n\r\n", [("Status", "503")]),
            ("NATS/1.0 408 Request Timeout\r\n\r\n", [("Status", "408"), ("Description", "Request Timeout")]),
            (
                "NATS/1.0 404  No Messages \t\r\nX: y\r\n\r\n",
                [("Status", "404"), ("Description", "No Messages"), ("X", "y")]
            ),
            (
                "NATS/1.0 100 Idle Heartbeat\r\nStatus: 200\r\nStatus: 201\r\nDescription: old\r\n\r\n",
                [("Status", "100"), ("Description", "Idle Heartbeat")]
            ),
            ("NATS/1.0 503\r\nDescription: kept\r\n\r\n", [("Status", "503"), ("Description", "kept")]),
            ("NATS/1.0 503x\r\n\r\n", [("Status", "503"), ("Description", "x")]),
        ] as [(String, [(String, String)])]
    )
    func parsesLikeCNats(block: String, expected: [(String, String)]) {
        let (raw, cnats) = readBothWays(bytes(block))
        #expect(raw == .parsed(makeHeaders(expected)), "\(block.debugDescription)")
        #expect(cnats == makeHeaders(expected), "cnats reads \(block.debugDescription) the same")
    }

    @Test func blocksWithoutFieldsGiveNoHeaders() {
        for block in ["NATS/1.0\r\n\r\n", "NATS/1.0 \r\n\r\n", "NATS/1.0    \r\n\r\n"] {
            let (raw, cnats) = readBothWays(bytes(block))
            #expect(raw == .parsed(nil), "\(block.debugDescription)")
            #expect(cnats == nil)
        }
    }

    @Test func invalidUTF8IsRepairedAsCNatsReaderDoes() {
        let block: [UInt8] = bytes("NATS/1.0\r\nA: a") + [0xFF, 0xC3] + bytes("b\r\n\r\n")
        let (raw, cnats) = readBothWays(block)
        guard case .parsed(let parsed) = raw else {
            Issue.record("the raw parser declined")
            return
        }
        #expect(parsed == cnats)
        #expect(parsed?["A"] == "a\u{FFFD}\u{FFFD}b")
    }

    /// Blocks left to cnats: the raw parser declines them, so the result is cnats' own. Some of these
    /// are surprising (an empty value takes the next line, or makes the whole block unreadable):
    /// the point is that nothing changes.
    @Test(arguments: [
        "NATS/1.0\r\nA:\r\n\r\n",  // empty value: cnats fails, no headers
        "NATS/1.0\r\nA: \r\nB: 2\r\n\r\n",  // empty value: cnats gives A the value "B: 2"
        "NATS/1.0\r\nA: 1\r\n  folded\r\n\r\n",  // folded line
        "NATS/1.0\r\n A: 1\r\n\r\n",  // leading space
        "NATS/1.0\r\nA\r\nB: 2\r\n\r\n",  // no colon on the line (cnats finds the next one)
        "NATS/1.0\r\n: v\r\n\r\n",  // empty name
        "NATS/1.0\r\nA: 1\r\n\r\nB: 2\r\n\r\n",  // the end in the middle
        "NATS/1.0\r\nA: 1\r\n\r",  // a lone CR at the end
        "NATS/1.0 50\r\n\r\n",  // status of two characters
        "NATS/1.0 abc\r\n\r\n",  // status not digits
        "NATS/1.0\t503\r\n\r\n",  // a tab before the status (cnats skips only spaces)
        "NATS/1.1\r\nA: 1\r\n\r\n",  // another version
        "HTTP/1.0\r\nA: 1\r\n\r\n",
        "NATS/1.0\r\n",  // ends after the status line
        "NATS/1.0 503",  // no CRLF at all
        "NATS/1.0\r\nA: \u{00E9}\r\n\r\n",  // non-ASCII where cnats asks isspace
        "NATS/1.0\r\nA: x \u{00E9}\r\n\r\n",
        "NATS/1.0 408 \u{00E9}\r\n\r\n",
        "NATS/1.0\r\n\u{00E9}: x\r\n\r\n",
        "NATS/1.0\r\nA: 1\r\n\r\nAB",
        "NATS/1.0\r\nA:\u{0B}1\r\n\r\n",  // vertical tab where cnats skips white space
        "NATS/1.0\r\nA  : 1\r\nA: 2\r\n\r\n",  // a name prefix of another: cnats merges these two
        "NATS/1.0\r\nA: 2\r\nA  : 1\r\n\r\n",
        "NATS/1.0 503\r\nStatus-X: 1\r\n\r\n",
    ])
    func declinesWhatCNatsMustRead(block: String) throws {
        let (raw, _) = readBothWays(bytes(block))
        #expect(raw == .unsupported, "\(block.debugDescription)")
        // Through the public reader: cnats' result, and the fall back is counted.
        let stats = RawHeaderStats()
        let message = receivedMessage(block: bytes(block), payload: [1])
        let read = NATSHeaders.read(from: message, stats: stats)
        natsMsg_Destroy(message)
        let again = receivedMessage(block: bytes(block), payload: [1])
        #expect(read == NATSHeaders(copyingFrom: again))
        natsMsg_Destroy(again)
        #expect(stats.readFallbacks.load(ordering: .relaxed) == 1)
    }

    @Test func nulBytesGoToCNats() {
        let block = bytes("NATS/1.0\r\nA: x") + [0] + bytes("y\r\n\r\n")
        #expect(readBothWays(block).raw == .unsupported)
    }

    @Test func messageWithoutHeadersHasNone() {
        let message = receivedMessage(block: [], payload: [1, 2])
        defer { natsMsg_Destroy(message) }
        #expect(NATSHeaders.readRaw(from: message) == .parsed(nil))
        #expect(NATSHeaders(copyingFrom: message) == nil)
    }

    @Test func aBlockCNatsAlreadyParsedGoesToCNats() {
        let message = receivedMessage(block: bytes("NATS/1.0\r\nA: 1\r\n\r\n"), payload: [])
        defer { natsMsg_Destroy(message) }
        // natsMsg_IsNoResponders parses an empty message's block into cnats' map (writing NULs
        // into the block): the raw reader must see that and step aside.
        #expect(!natsMsg_IsNoResponders(message))
        #expect(NATSHeaders.readRaw(from: message) == .unsupported)
        #expect(NATSHeaders(copyingFrom: message) == ["A": "1"])
    }

    /// Random blocks, from lines made of likely pieces or from bytes that matter to the parser:
    /// whenever the raw parser reads one, cnats reads it the same.
    @Test func randomBlocksAgreeWithCNats() {
        let alphabet: [UInt8] = bytes("AB: \t\r\n\r\n5031") + [0x0B, 0xC3]
        let starts = ["NATS/1.0\r\n", "NATS/1.0 503\r\n", "NATS/1.0 408 Request Timeout \r\n", "NATS/1.0  \r\n"]
        let names = ["A", "B", "Status", "Description", "A ", ""]
        let separators = [":", ": ", ":\t", "  :   ", ": \r\n"]
        let values = ["1", " x ", "a b", "503", "", "\t", "v\u{0B}", "é", "x\ny"]
        let ends = ["\r\n", "\r\n", "\r\n", "\n", "\r\n  "]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        var parsed = 0
        var declined = 0
        for _ in 0..<20_000 {
            var block = bytes(starts[next(starts.count)])
            if next(4) == 0 {
                for _ in 0..<next(24) { block.append(alphabet[next(alphabet.count)]) }
            } else {
                for _ in 0..<next(4) {
                    block += bytes(names[next(names.count)] + separators[next(separators.count)])
                    block += bytes(values[next(values.count)] + ends[next(ends.count)])
                }
            }
            if next(8) != 0 { block += bytes("\r\n") }
            let (raw, cnats) = readBothWays(block)
            if case .parsed(let headers) = raw {
                parsed += 1
                #expect(headers == cnats, "\(String(decoding: block, as: UTF8.self).debugDescription)")
            } else {
                declined += 1
            }
        }
        #expect(parsed > 4_000, "the raw parser read \(parsed) of the random blocks")
        #expect(declined > 4_000, "the raw parser declined \(declined) of the random blocks")
    }

    @Test func writesTheBlockCNatsWrites() throws {
        var headers = NATSHeaders()
        headers["Hemera-Timeout"] = "5000"
        headers.append("a\r\nb", for: "X")
        headers.append("", for: "Empty")
        let length = try #require(headers.rawBlockLength)
        var block = [UInt8](repeating: 0, count: length)
        #expect(block.withUnsafeMutableBufferPointer { headers.writeRawBlock(to: $0.baseAddress!) })
        #expect(
            String(decoding: block, as: UTF8.self) == "NATS/1.0\r\nHemera-Timeout: 5000\r\nX: a  b\r\nEmpty: \r\n\r\n"
        )
        #expect((["": "x"] as NATSHeaders).rawBlockLength == nil, "cnats refuses an empty name")
        #expect(makeHeaders([("A", "1"), ("A  ", "2")]).rawBlockLength == nil, "names cnats' map confuses")
        var nul = NATSHeaders()
        nul["A"] = "x\u{0}y"
        var scratch = [UInt8](repeating: 0, count: nul.rawBlockLength!)
        #expect(!scratch.withUnsafeMutableBufferPointer { nul.writeRawBlock(to: $0.baseAddress!) })
    }
}

// MARK: Through a server

/// Receives one message on `subject` through a plain cnats synchronous subscription on
/// `connection`, and reads its headers both ways (raw first, as the raw reader must see the block
/// unparsed). Blocking calls run on a dedicated thread.
private func receiveBothWays(
    _ connection: NATSConnection,
    subject: String,
    send: @escaping @Sendable () throws -> Void
) async throws -> (raw: RawHeaderRead, cnats: NATSHeaders?, payload: [UInt8]) {
    let nc = connection.pointer
    let result: Result<(RawHeaderRead, NATSHeaders?, [UInt8]), NATSError> = await onDedicatedThread {
        var sub: OpaquePointer?
        guard natsConnection_SubscribeSync(&sub, nc.raw, subject) == NATS_OK else {
            return .failure(NATSError(code: .timeout, message: "subscribe failed"))
        }
        defer { natsSubscription_Destroy(sub) }
        guard natsConnection_FlushTimeout(nc.raw, 2_000) == NATS_OK else {
            return .failure(NATSError(code: .timeout, message: "flush failed"))
        }
        do { try send() } catch { return .failure(NATSError(code: .timeout, message: "send failed: \(error)")) }
        var msg: OpaquePointer?
        guard natsSubscription_NextMsg(&msg, sub, 5_000) == NATS_OK, let msg else {
            return .failure(NATSError(code: .timeout, message: "no message"))
        }
        defer { natsMsg_Destroy(msg) }
        let raw = NATSHeaders.readRaw(from: msg)
        let cnats = NATSHeaders(copyingFrom: msg)
        let length = Int(natsMsg_GetDataLength(msg))
        let payload = Array(UnsafeRawBufferPointer(start: natsMsg_GetData(msg), count: length))
        return .success((raw, cnats, payload))
    }
    return try result.get()
}

/// Sends raw protocol text as a plain TCP NATS client: reads INFO, sends CONNECT (headers on),
/// `text`, and PING, and waits for PONG.
private func rawPeerSend(port: UInt16, _ text: [UInt8]) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw NATSError(code: .timeout, message: "socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw NATSError(code: .timeout, message: "connect failed") }
    var received: [UInt8] = []
    func readUntil(_ marker: String) throws {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw NATSError(code: .timeout, message: "peer read failed") }
            received += chunk[0..<count]
        }
    }
    try readUntil("\r\n")
    let message =
        bytes("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n")
        + text + bytes("PING\r\n")
    let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    guard sent == message.count else { throw NATSError(code: .timeout, message: "peer write failed") }
    try readUntil("PONG\r\n")
    #expect(!String(decoding: received, as: UTF8.self).contains("-ERR"))
}

private func port(of server: NATSTestServer) -> UInt16 { UInt16(server.url.split(separator: ":").last!)! }

/// `HPUB subject hlen tlen` with `block` and `payload`.
private func hpub(_ subject: String, block: String, payload: String) -> [UInt8] {
    let head = bytes(block)
    let body = bytes(payload)
    return bytes("HPUB \(subject) \(head.count) \(head.count + body.count)\r\n") + head + body + bytes("\r\n")
}

@Suite("Raw headers through a server")
struct RawHeadersServerTests {
    static let sample: NATSHeaders = {
        var headers = NATSHeaders()
        headers["Hemera-Timeout"] = "2500"
        headers["trace-id"] = "abc"
        headers["Trace-Id"] = "ABC"
        headers.append("one", for: "Multi")
        headers.append(" two ", for: "Multi")
        headers.append("line\r\nbreak", for: "Multi")
        return headers
    }()

    /// What cnats' reader gives for `sample` (it trims values and writes CR/LF as spaces).
    static let sampleAsRead: NATSHeaders = {
        var headers = NATSHeaders()
        headers["Hemera-Timeout"] = "2500"
        headers["trace-id"] = "abc"
        headers["Trace-Id"] = "ABC"
        headers.append("one", for: "Multi")
        headers.append("two", for: "Multi")
        headers.append("line  break", for: "Multi")
        return headers
    }()

    @Test func newWriterReadBothWays() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let (raw, cnats, payload) = try await receiveBothWays(connection, subject: "raw.new") {
                try connection.publish(to: "raw.new", payload: Array("body".utf8), headers: Self.sample)
            }
            #expect(raw == .parsed(Self.sampleAsRead))
            #expect(cnats == Self.sampleAsRead)
            #expect(payload == Array("body".utf8))
            #expect(connection.rawHeaderStats.writeFallbacks.load(ordering: .relaxed) == 0)
            await connection.close()
        }
    }

    @Test func cnatsWriterReadBothWays() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let (raw, cnats, payload) = try await receiveBothWays(connection, subject: "raw.old") {
                // cnats' own writer: natsMsg_Create + natsMsgHeader_Add.
                var msg: OpaquePointer?
                try check(natsMsg_Create(&msg, "raw.old", nil, "body", 4))
                defer { natsMsg_Destroy(msg) }
                try Self.sample.apply(to: msg!)
                try check(natsConnection_PublishMsg(connection.pointer.raw, msg))
            }
            #expect(raw == .parsed(Self.sampleAsRead))
            #expect(cnats == Self.sampleAsRead)
            #expect(payload == Array("body".utf8))
            await connection.close()
        }
    }

    @Test func rawPeerWithOddSpacingReadsAsThroughCNats() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let block = "NATS/1.0\r\nA:   x  \r\nA:y\r\nB :\tz\t\r\nHemera-Timeout:750\r\n\r\n"
            let port = port(of: server)
            let (raw, cnats, payload) = try await receiveBothWays(connection, subject: "raw.peer") {
                try rawPeerSend(port: port, hpub("raw.peer", block: block, payload: "hi"))
            }
            let expected = makeHeaders([("A", "x"), ("A", "y"), ("B ", "z"), ("Hemera-Timeout", "750")])
            #expect(raw == .parsed(expected))
            #expect(cnats == expected)
            #expect(payload == Array("hi".utf8))
            await connection.close()
        }
    }

    /// Well-formed traffic through the public API never falls back; a folded line does, once,
    /// and reads as cnats reads it.
    @Test func fallBacksAreCounted() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let responder = try await connect(server)
            let echo = try startEchoResponder(responder, subject: "raw.echo")
            try await responder.flush(timeout: .seconds(2))
            for index in 0..<20 {
                var headers = Self.sample
                headers["n"] = String(index)
                let reply = try await connection.request(
                    to: "raw.echo",
                    payload: Array("\(index)".utf8),
                    headers: headers,
                    timeout: .seconds(5)
                )
                var expected = Self.sampleAsRead
                expected["n"] = String(index)
                #expect(reply.headers == expected)
            }
            // No responders: a 503 status block, read raw.
            let error = try await #require(throws: NATSError.self) {
                try await connection.request(to: "raw.nobody", payload: [], timeout: .seconds(5))
            }
            #expect(error.code == .noResponders)
            // An empty reply with headers (cnats' no-responders check would parse its block).
            let empty = try responder.subscribe(to: "raw.empty") { message in
                guard let reply = message.replyTo else { return }
                do {
                    try responder.publish(to: reply, payload: [], headers: ["k": "v"])
                } catch {
                    Issue.record("reply failed: \(error)")
                }
            }
            try await responder.flush(timeout: .seconds(2))
            let emptyReply = try await connection.request(to: "raw.empty", payload: [], timeout: .seconds(5))
            #expect(emptyReply.headers == ["k": "v"])
            #expect(emptyReply.payload.isEmpty)
            for side in [connection, responder] {
                #expect(side.rawHeaderStats.readFallbacks.load(ordering: .relaxed) == 0)
                #expect(side.rawHeaderStats.writeFallbacks.load(ordering: .relaxed) == 0)
            }

            // A folded header line from a raw peer: cnats reads it (and counts one fall back).
            let subscription = try connection.subscribe(to: "raw.folded")
            try await connection.flush(timeout: .seconds(2))
            let port = port(of: server)
            let folded = "NATS/1.0\r\nA: 1\r\n  more\r\nB: 2\r\n\r\n"
            try await onDedicatedThread {
                Result { try rawPeerSend(port: port, hpub("raw.folded", block: folded, payload: "x")) }
            }
            .get()
            let message = try #require(try await collect(subscription, count: 1).first)
            #expect(message.headers == makeHeaders([("A", "1 more"), ("B", "2")]))
            #expect(connection.rawHeaderStats.readFallbacks.load(ordering: .relaxed) == 1)

            // A status with a description from a raw peer, through the public API: no fall back.
            let statusSubscription = try connection.subscribe(to: "raw.status")
            try await connection.flush(timeout: .seconds(2))
            let status = "NATS/1.0 408 Request Timeout\r\nX: y\r\n\r\n"
            try await onDedicatedThread {
                Result { try rawPeerSend(port: port, hpub("raw.status", block: status, payload: "")) }
            }
            .get()
            let statusMessage = try #require(try await collect(statusSubscription, count: 1).first)
            #expect(
                statusMessage.headers
                    == makeHeaders([("Status", "408"), ("Description", "Request Timeout"), ("X", "y")])
            )
            #expect(connection.rawHeaderStats.readFallbacks.load(ordering: .relaxed) == 1)

            withExtendedLifetime((echo, empty)) {}
            await connection.close()
            await responder.close()
        }
    }

    /// cnats' checks that the raw writer must keep: an empty reply subject is refused as before.
    @Test func emptyReplyIsRefusedAsBefore() async throws {
        try await withNATSServer { server in
            let connection = try await connect(server)
            let error = try #require(throws: NATSError.self) {
                try "".withCString { reply in
                    try [UInt8]("x".utf8).withUnsafeBytes { payload in
                        try connection.publish("raw.reply", payload, reply, ["k": "v"])
                    }
                }
            }
            #expect(error.code == .invalidArgument)
            await connection.close()
        }
    }
}
