internal import CNats
internal import Synchronization
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// Headers as raw bytes, in both directions, instead of cnats' header hash map.
//
// Every typed act sends a `Hemera-Timeout` header. Through cnats' header functions the client
// built a hash map to publish it (`natsMsg_Create` + `natsMsgHeader_Add`: a map, its buckets, a
// value cell, copies of the name and value) and the service had cnats parse the received block
// into another one (`natsMsgHeader_Keys`/`_Values`: the map, a value cell, two arrays): about 13 of
// the ~50 allocations and ~5k of the instructions of an act (callgrind, `scripts/callgrind_act.py`).
// Here the receiver parses the raw block cnats keeps in the message (`hdr`, `hdrLen`) straight
// into ``NATSHeaders``, and the sender writes the block itself into a message cnats made for it
// the way it makes a received one (`natsMsg_create`), which cnats publishes as it is.
//
// Both read cnats 3.4.1's private message layout (`CNats_MsgLayout341` in the CNats shim) and call
// two functions its public header does not declare. That is done only on cnats 3.4.x (checked
// once, ``CNatsMessageLayout/functions``), and every message is checked against the public getters
// before its private fields are trusted. Anything else (another version, a failed check, a block
// this parser does not accept) takes cnats' own functions, the code that ran before, and is
// counted in ``RawHeaderStats`` so that a silent fall back shows in the tests.

/// How many messages took cnats' own header functions although they had headers (per connection).
///
/// Well-formed traffic on cnats 3.4.x keeps both at 0: the tests check it.
final class RawHeaderStats: Sendable {
    /// Received header blocks read through `natsMsgHeader_Keys`/`_Values`.
    let readFallbacks = Atomic<Int>(0)
    /// Published headers written through `natsMsgHeader_Add`.
    let writeFallbacks = Atomic<Int>(0)

    init() {}

    func noteReadFallback() { self.readFallbacks.add(1, ordering: .relaxed) }
    func noteWriteFallback() { self.writeFallbacks.add(1, ordering: .relaxed) }
}

/// cnats 3.4.1's private message layout and the two unexported-in-the-header functions used with it.
enum CNatsMessageLayout {
    /// `natsMsg_create` and `natsMsgHeader_encodedLen`, present only when the linked cnats is 3.4.x
    /// (built against 3.4.x headers) and the mirror struct has the size of cnats' 64-bit layout.
    /// Checked once, at first use.
    struct Functions {
        typealias Create =
            @convention(c) (
                UnsafeMutablePointer<OpaquePointer?>?, UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, Int32,
                UnsafePointer<CChar>?, Int32, Int32
            ) -> natsStatus
        typealias EncodedLength = @convention(c) (OpaquePointer?) -> Int32

        let create: Create
        let encodedLength: EncodedLength
    }

    static let functions: Functions? = {
        // The library's major.minor, and the headers' (NATS_VERSION_*): both 3.4. The struct's
        // size is checked at compile time in the shim; the subject starts right after it
        // (see `view(of:)`).
        let library = nats_GetVersionNumber() >> 8
        let headers = UInt32(NATS_VERSION_MAJOR) << 8 | UInt32(NATS_VERSION_MINOR)
        guard library == 0x0304, library == headers else { return nil }
        // nil handle: RTLD_DEFAULT, every loaded library (libnats is linked into this process).
        guard let create = dlsym(nil, "natsMsg_create"), let encodedLength = dlsym(nil, "natsMsgHeader_encodedLen")
        else { return nil }
        // The symbols are cnats 3.4.1's `natsStatus natsMsg_create(natsMsg **newMsg, const char
        // *subject, int subjLen, const char *reply, int replyLen, const char *buf, int bufLen, int
        // hdrLen)` and `int natsMsgHeader_encodedLen(natsMsg *msg)` (src/msg.h, src/msg.c): C
        // functions of exactly these types (`natsMsg *` is an opaque pointer here).
        return Functions(
            create: unsafeBitCast(create, to: Functions.Create.self),
            encodedLength: unsafeBitCast(encodedLength, to: Functions.EncodedLength.self)
        )
    }()

    /// cnats' `needsLift` flag: the message carries a raw header block that was never parsed.
    static let needsLift: Int32 = 1

    /// The private fields of `message`, when the public getters agree with them: subject, reply,
    /// data and data length are the same pointers and length, and the subject starts right after
    /// the struct (where `natsMsg_create`, which makes every message cnats receives, puts it).
    /// nil otherwise, or when this is not cnats 3.4.x.
    static func view(of message: OpaquePointer) -> CNats_MsgLayout341? {
        guard self.functions != nil else { return nil }
        let base = UnsafeRawPointer(message)
        // Safe: `message` is a live `natsMsg` (the caller owns it), one allocation of at least the
        // 104 bytes of cnats 3.4.1's struct, malloc-aligned; `CNats_MsgLayout341` is that struct
        // field for field (trivial C types only), so loading it reads initialized memory of a
        // layout-compatible type. Nothing read here is used before the checks below.
        let view = base.load(as: CNats_MsgLayout341.self)
        guard let subject = view.subject,
            UnsafeRawPointer(subject) == base + MemoryLayout<CNats_MsgLayout341>.size,
            subject == natsMsg_GetSubject(message),
            view.reply == natsMsg_GetReply(message),
            view.data == natsMsg_GetData(message),
            view.dataLen == natsMsg_GetDataLength(message)
        else { return nil }
        return view
    }
}

/// What reading a raw header block gave.
enum RawHeaderRead: Equatable {
    /// The headers (nil when the message has none, or a block with no fields), exactly what cnats'
    /// own functions would give.
    case parsed(NATSHeaders?)
    /// Not read: cnats' own functions must read this message.
    case unsupported
}

extension NATSHeaders {
    /// The headers of a received cnats message (which the caller keeps): parsed from the raw block,
    /// or through cnats' header functions when that is not possible (counted in `stats`).
    static func read(from message: OpaquePointer, stats: RawHeaderStats?) -> NATSHeaders? {
        if case .parsed(let headers) = self.readRaw(from: message) { return headers }
        stats?.noteReadFallback()
        return NATSHeaders(copyingFrom: message)
    }

    /// Parses a received message's raw header block, without calling cnats' header functions.
    static func readRaw(from message: OpaquePointer) -> RawHeaderRead {
        guard let view = CNatsMessageLayout.view(of: message) else { return .unsupported }
        // A block cnats already parsed (its map exists, the needs-lift flag is cleared, and the
        // parse wrote NULs into the block) is read through cnats.
        guard view.headers == nil else { return .unsupported }
        if view.hdrLen == 0 { return view.flags & CNatsMessageLayout.needsLift == 0 ? .parsed(nil) : .unsupported }
        guard let hdr = view.hdr, view.hdrLen > 0, view.flags & CNatsMessageLayout.needsLift != 0,
            let data = view.data,
            // natsMsg_create's layout: the block, a NUL, then the payload.
            UnsafeRawPointer(hdr) + Int(view.hdrLen) + 1 == UnsafeRawPointer(data)
        else { return .unsupported }
        // Safe: `hdr` points to `hdrLen` bytes of the message's own allocation (checked above to
        // end right before the payload, as natsMsg_create lays it out), alive while the caller
        // keeps `message`; the bytes are only read, and copied into Strings before returning.
        let block = UnsafeRawBufferPointer(start: hdr, count: Int(view.hdrLen))
        return self.parse(rawBlock: block)
    }

    /// Parses a raw header block (`NATS/1.0[ status[ description]]\r\nName: value\r\n...\r\n`) the
    /// way cnats 3.4.1 does (`_liftHeaders` in its src/msg.c), for the blocks it reads without
    /// surprises; ``RawHeaderRead/unsupported`` for the rest, which cnats must read.
    ///
    /// Same results as cnats: a name is the bytes before the line's first colon; a value has
    /// leading and trailing C `isspace` characters trimmed; repeated names keep their values in
    /// order; an inline status (`NATS/1.0 503`) becomes the value of `Status` (replacing any
    /// `Status` line) and the rest of the line, trimmed, of `Description` (same); a block without
    /// fields gives nil. Left to cnats: a NUL byte anywhere, a missing colon, an empty name, an
    /// empty value (cnats reads on into the next line, or fails), a line starting with white
    /// space (a folded value), a status not of three digits, anything that ends early, a
    /// non-ASCII byte in a name or where cnats asks `isspace` (its answer depends on the C locale),
    /// and names cnats' map can confuse (``namesConfuseCNats``).
    static func parse(rawBlock block: UnsafeRawBufferPointer) -> RawHeaderRead {
        let count = block.count
        guard count >= 10, let base = block.baseAddress else { return .unsupported }
        let version: StaticString = "NATS/1.0"
        guard memcmp(base, version.utf8Start, 8) == 0, memchr(base, 0, count) == nil else { return .unsupported }

        // The status line: spaces after the version, then everything before the first CRLF.
        var index = 8
        while index < count && block[index] == UInt8(ascii: " ") { index += 1 }
        let statusStart = index
        guard let statusEnd = Self.crlf(in: block, from: index) else { return .unsupported }
        index = statusEnd + 2
        guard index < count else { return .unsupported }

        var headers = NATSHeaders()
        while index < count {
            let first = block[index]
            if first == UInt8(ascii: "\r") {
                // The empty line that ends the block: it must be the last two bytes.
                guard index + 2 == count, block[index + 1] == UInt8(ascii: "\n") else { return .unsupported }
                break
            }
            guard first < 0x80, !Self.isCSpace(first), let lineEnd = Self.crlf(in: block, from: index) else {
                return .unsupported
            }
            // The name: ASCII only, so that its String has the very bytes (see `namesConfuseCNats`).
            var colon = index
            while colon < lineEnd && block[colon] != UInt8(ascii: ":") {
                if block[colon] >= 0x80 { return .unsupported }
                colon += 1
            }
            guard colon < lineEnd, colon > index else { return .unsupported }
            var valueStart = colon + 1
            while valueStart < lineEnd && (block[valueStart] == UInt8(ascii: " ") || block[valueStart] == 0x09) {
                valueStart += 1
            }
            guard valueStart < lineEnd, block[valueStart] < 0x80, !Self.isCSpace(block[valueStart]) else {
                return .unsupported
            }
            var valueEnd = lineEnd
            while valueEnd - 1 > valueStart && Self.isCSpace(block[valueEnd - 1]) { valueEnd -= 1 }
            guard block[valueEnd - 1] < 0x80 else { return .unsupported }
            headers.fields.append(
                (Self.string(block, index..<colon), Self.string(block, valueStart..<valueEnd))
            )
            index = lineEnd + 2
        }

        // The inline status, as cnats sets it after the fields (natsMsgHeader_Set: replacing).
        if statusEnd > statusStart {
            guard statusEnd - statusStart >= 3,
                block[statusStart..<statusStart + 3].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { return .unsupported }
            headers["Status"] = Self.string(block, statusStart..<statusStart + 3)
            var descriptionStart = statusStart + 3
            var descriptionEnd = statusEnd
            while descriptionStart < descriptionEnd && Self.isCSpace(block[descriptionStart]) { descriptionStart += 1 }
            while descriptionEnd > descriptionStart && Self.isCSpace(block[descriptionEnd - 1]) { descriptionEnd -= 1 }
            if descriptionStart < descriptionEnd {
                guard block[descriptionStart] < 0x80, block[descriptionEnd - 1] < 0x80 else { return .unsupported }
                headers["Description"] = Self.string(block, descriptionStart..<descriptionEnd)
            }
        }
        if headers.namesConfuseCNats { return .unsupported }
        return .parsed(headers.isEmpty ? nil : headers)
    }

    /// Whether one name is a proper prefix of another (`A` and `A-B`), which cnats 3.4.1's header
    /// map can confuse: its string hash skips some bytes (the `len & 2` tail, bytes 12-15 of each
    /// 16) and its look-up (`natsStrHash_GetEx`) compares only the length of the name looked up,
    /// so `A` can find the values of `A  ` (same hash), both when cnats parses a block and when
    /// `natsMsgHeader_Add` adds a value. Such headers go through cnats, confusion included, so
    /// that nothing changes. Without such a pair, cnats' look-ups are exact.
    var namesConfuseCNats: Bool {
        let fields = self.fields
        if fields.count < 2 { return false }
        for first in fields.indices {
            let name = fields[first].name.utf8
            for second in fields.indices where second != first {
                let other = fields[second].name.utf8
                if name.count < other.count && other.starts(with: name) { return true }
            }
        }
        return false
    }

    /// The index of the first `\r\n` at or after `start`, both bytes inside the block.
    @inline(__always)
    private static func crlf(in block: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard let base = block.baseAddress else { return nil }
        var index = start
        while index + 1 < block.count {
            // memchr for the CR, then the LF after it.
            guard let found = memchr(base + index, Int32(UInt8(ascii: "\r")), block.count - 1 - index) else {
                return nil
            }
            index = base.distance(to: UnsafeRawPointer(found))
            if block[index + 1] == UInt8(ascii: "\n") { return index }
            index += 1
        }
        return nil
    }

    /// C's `isspace` in the C locale, for ASCII bytes: space, \t, \n, \v, \f, \r.
    @inline(__always)
    private static func isCSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (byte >= 0x09 && byte <= 0x0D)
    }

    /// The bytes as a String, invalid UTF-8 repaired as `String(cString:)` does.
    @inline(__always)
    private static func string(_ block: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: block[range]), as: UTF8.self)
    }

    // MARK: Writing

    /// The length of the block cnats would write for these headers (`NATS/1.0\r\n`, a
    /// `name: value\r\n` line per value, `\r\n`), or nil when a name is empty (cnats refuses it)
    /// or names would confuse cnats' map (``namesConfuseCNats``).
    var rawBlockLength: Int? {
        if self.namesConfuseCNats { return nil }
        var length = 10 + 2
        for field in self.fields {
            let name = field.name.utf8.count
            if name == 0 { return nil }
            length += name + 2 + field.value.utf8.count + 2
        }
        return length
    }

    /// Writes the block of ``rawBlockLength`` bytes as cnats' `natsMsgHeader_encode` would (CR and
    /// LF in values become spaces), names in the order added. False when a name or value holds a
    /// NUL byte (cnats would cut it there): then cnats' functions must write these headers.
    func writeRawBlock(to start: UnsafeMutablePointer<UInt8>) -> Bool {
        var out = start
        @inline(__always) func put(_ text: StaticString) {
            out.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
            out += text.utf8CodeUnitCount
        }
        put("NATS/1.0\r\n")
        for field in self.fields {
            guard Self.copy(field.name, to: &out, isValue: false) else { return false }
            put(": ")
            guard Self.copy(field.value, to: &out, isValue: true) else { return false }
            put("\r\n")
        }
        put("\r\n")
        return true
    }
}

extension NATSHeaders {
    /// Copies the UTF-8 bytes of `text` to `out` and moves it past them; in a value, CR and LF
    /// become spaces (as cnats writes them). False, with nothing useful written, at a NUL byte.
    /// (A byte-by-byte walk of `String.UTF8View` cost ~800 instructions per block; this ~100.)
    @inline(__always)
    fileprivate static func copy(_ text: String, to out: inout UnsafeMutablePointer<UInt8>, isValue: Bool) -> Bool {
        var text = text
        // `withUTF8` lends native and small strings' own bytes (small ones from a stack copy): no
        // allocation, no copy for the strings made in this process.
        return text.withUTF8 { bytes in
            guard let source = bytes.baseAddress, !bytes.isEmpty else { return true }
            if memchr(source, 0, bytes.count) != nil { return false }
            out.update(from: source, count: bytes.count)
            if isValue {
                for index in 0..<bytes.count where out[index] == UInt8(ascii: "\r") || out[index] == UInt8(ascii: "\n")
                {
                    out[index] = UInt8(ascii: " ")
                }
            }
            out += bytes.count
            return true
        }
    }
}

extension NATSConnection {
    /// Publishes `headers` as a raw block: one message made by cnats' `natsMsg_create` with the
    /// block and payload written in place, which cnats sends with `HPUB` as it sends a received
    /// message back, no header map. False (nothing sent, counted) when cnats' header functions
    /// must do it: not cnats 3.4.x, an empty subject or reply (they refuse it with their own
    /// error), a NUL byte, or a message that does not look as natsMsg_create makes them.
    func publishRawHeaders(
        _ nc: OpaquePointer,
        _ subject: UnsafePointer<CChar>,
        _ payload: UnsafeRawBufferPointer,
        _ reply: UnsafePointer<CChar>?,
        _ headers: NATSHeaders
    ) throws(NATSError) -> Bool {
        guard let functions = CNatsMessageLayout.functions, let blockLength = headers.rawBlockLength,
            blockLength + payload.count <= Int(Int32.max)
        else { return self.rawHeaderFallback() }
        let replyLength = reply.map { strlen($0) } ?? 0
        if reply != nil && replyLength == 0 { return self.rawHeaderFallback() }
        var made: OpaquePointer?
        let nameLength = strlen(subject)
        guard nameLength > 0 else { return self.rawHeaderFallback() }
        // NULL buffer: cnats allocates the message with room for the block and payload and
        // copies nothing; they are written below.
        let status = functions.create(
            &made,
            subject,
            Int32(clamping: nameLength),
            reply,
            Int32(clamping: replyLength),
            nil,
            Int32(blockLength + payload.count),
            Int32(blockLength)
        )
        try check(status)
        guard let message = made else { return self.rawHeaderFallback() }
        defer { releaseMessage(message) }
        guard let view = CNatsMessageLayout.view(of: message), view.headers == nil,
            let hdr = view.hdr, Int(view.hdrLen) == blockLength,
            view.flags & CNatsMessageLayout.needsLift != 0,
            let data = view.data, Int(view.dataLen) == payload.count,
            UnsafeRawPointer(hdr) + blockLength + 1 == UnsafeRawPointer(data),
            Int(functions.encodedLength(message)) == blockLength
        else { return self.rawHeaderFallback() }
        // Safe: natsMsg_create allocated `blockLength` bytes at `hdr` and `payload.count` at `data`
        // inside the message (checked above against the public getters and cnats' own length),
        // writable (malloc'd; `data` is const only in cnats' declaration), and this thread owns
        // the message until it is released. The block's bytes are `char` (Int8) to C and written
        // as UInt8: signed and unsigned integers of one size may alias in Swift.
        guard headers.writeRawBlock(to: UnsafeMutableRawPointer(hdr).assumingMemoryBound(to: UInt8.self)) else {
            return self.rawHeaderFallback()
        }
        if let bytes = payload.baseAddress, payload.count > 0 {
            UnsafeMutableRawPointer(mutating: data).copyMemory(from: bytes, byteCount: payload.count)
        }
        try check(natsConnection_PublishMsg(nc, message))
        return true
    }

    @inline(never)
    private func rawHeaderFallback() -> Bool {
        self.rawHeaderStats.noteWriteFallback()
        return false
    }
}
