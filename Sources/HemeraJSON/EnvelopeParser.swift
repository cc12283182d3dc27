// The envelope parser: package API for the facade's hot path (requests at a service, replies at a
// client). It walks an envelope's top-level object with the layer's one JSON reader
// (`_JSONScanner`, Scanner.swift: the same grammar and number rules as `HemeraJSONDecoder` and
// `JSONValue(parsing:)`), builds the members it needs and skips the rest. Covered by the
// hostile-input tests (Tests/HemeraJSONTests/EnvelopeParserTests.swift) and the fuzz target,
// which checks it against the decoder and against jansson on every input.

/// A small, strict JSON parser into ``JSONValue`` for the envelopes on the hot path (requests at a
/// service, replies at a client): one pass over the bytes, no intermediate tree.
///
/// Strict RFC 8259: no comments, no trailing commas, no leading zeros, no bare control characters
/// in strings; `\u` escapes with surrogate pairs; invalid UTF-8 is rejected; nesting is limited.
/// Duplicate keys: the last wins. Anything it rejects is reported as a parse error by the caller.
package struct EnvelopeParser {
    /// Why and where the input is not valid JSON.
    package struct Failure: Error, CustomStringConvertible {
        package var reason: String
        package var offset: Int
        package var description: String { "\(reason) at byte \(offset)" }

        package init(reason: String, offset: Int) {
            self.reason = reason
            self.offset = offset
        }
    }

    package static let maxDepth = 128

    package static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> JSONValue in
            var parser = _JSONScanner(bytes: buffer)
            parser.skipSpace()
            let value = try parser.value(depth: 0, maxDepth: maxDepth)
            parser.skipSpace()
            guard parser.index == buffer.count else {
                throw parser.trailingData()
            }
            return value
        }
    }

    /// A request envelope: every member parsed, except the `trace` and `request` objects, which
    /// are validated and kept as byte ranges (echoed verbatim, parsed only when asked for).
    ///
    /// The members a service reads on every request (`pattern`, `meta`, `delegate`) have fields of
    /// their own, found by comparing the key's bytes: no `String` is made for their keys and no
    /// dictionary is filled, hashed and read back for them. Any other member goes to `others`
    /// (which stays an empty literal, no storage, for the usual envelope).
    package struct RequestEnvelope {
        /// The (last) `pattern` member's value, if present.
        package var patternValue: JSONValue?
        /// The (last) `meta` member's value, if present.
        package var meta: JSONValue?
        /// The (last) `delegate` member's value, if present.
        package var delegate: JSONValue?
        /// Every other member, with a `trace` or `request` that is not an object.
        package var others: [String: JSONValue]
        package var trace: Range<Int>?
        package var request: Range<Int>?
        /// Where the (last) `pattern` member's value is, when it is an object: typed services
        /// decode their request type straight from these bytes.
        package var pattern: Range<Int>?

        /// All the members but the `trace` and `request` objects kept as ranges, as one
        /// dictionary (made on each call: the hot path reads the fields).
        package var members: [String: JSONValue] {
            var members = others
            if let patternValue { members["pattern"] = patternValue }
            if let meta { members["meta"] = meta }
            if let delegate { members["delegate"] = delegate }
            return members
        }
    }

    /// The keys of a request envelope the parser gives fields of their own.
    enum RequestKey { case pattern, meta, delegate, trace, request }

    /// A reply envelope as a typed caller needs it: where `result` is (decoded from those bytes
    /// by the caller), and `error` when it is present and not `null`. Every other member is
    /// validated and skipped. Duplicate keys: the last wins, as in ``parseRequestEnvelope(_:)``.
    package struct ReplyEnvelope {
        /// The byte range of the `result` value, if the key is present.
        package var result: Range<Int>?
        /// The `error` value, when present and not `null`.
        package var error: JSONValue?
    }

    /// Parses a reply envelope for a typed caller: `nil` for valid JSON that is not an object.
    package static func parseReplyEnvelope(_ bytes: [UInt8]) throws(Failure) -> ReplyEnvelope? {
        var envelope = ReplyEnvelope(result: nil, error: nil)
        let isObject = try walkTopLevelObject(bytes) { (parser) throws(Failure) in
            try keyKind(&parser)
        } value: { (parser, key) throws(Failure) in
            switch key {
            case .result:
                let start = parser.index
                try parser.skip(depth: 1, maxDepth: maxDepth)
                envelope.result = start..<parser.index
            case .error:
                let error = try parser.value(depth: 1, maxDepth: maxDepth)
                // Not a ternary: `nil` would read as `JSONValue.null` there.
                if error.isNull { envelope.error = nil } else { envelope.error = error }
            case .other:
                try parser.skip(depth: 1, maxDepth: maxDepth)
            }
        }
        return isObject ? envelope : nil
    }

    package static func parseRequestEnvelope(_ bytes: [UInt8]) throws(Failure) -> RequestEnvelope? {
        var envelope = RequestEnvelope(
            patternValue: nil,
            meta: nil,
            delegate: nil,
            others: [:],
            trace: nil,
            request: nil,
            pattern: nil
        )
        let isObject = try walkTopLevelObject(bytes) { (parser) throws(Failure) -> (RequestKey?, String) in
            try requestKey(&parser)
        } value: { (parser, key) throws(Failure) in
            switch key.0 {
            case .pattern?:
                let start = parser.index
                let value = try parser.value(depth: 1, maxDepth: maxDepth)
                if case .object = value { envelope.pattern = start..<parser.index } else { envelope.pattern = nil }
                envelope.patternValue = value
            case .meta?:
                envelope.meta = try parser.value(depth: 1, maxDepth: maxDepth)
            case .delegate?:
                envelope.delegate = try parser.value(depth: 1, maxDepth: maxDepth)
            case .trace?, .request?:
                let isTrace = key.0 == .trace
                let start = parser.index
                if parser.bytes[start] == UInt8(ascii: "{") {
                    try parser.skip(depth: 1, maxDepth: maxDepth)
                    if isTrace { envelope.trace = start..<parser.index } else { envelope.request = start..<parser.index }
                    // Only when there is something to remove: a removal from the empty literal
                    // gives the dictionary storage of its own (an allocation per request).
                    if !envelope.others.isEmpty { envelope.others[isTrace ? "trace" : "request"] = nil }
                } else {
                    envelope.others[isTrace ? "trace" : "request"] = try parser.value(depth: 1, maxDepth: maxDepth)
                    if isTrace { envelope.trace = nil } else { envelope.request = nil }
                }
            case nil:
                envelope.others[key.1] = try parser.value(depth: 1, maxDepth: maxDepth)
            }
        }
        return isObject ? envelope : nil
    }

    /// Reads a key of a request envelope: one of the five the parser knows, found from its bytes
    /// (no string made; an escaped spelling is unescaped first, so it counts too), or any other
    /// key as a string.
    static func requestKey(_ parser: inout _JSONScanner) throws(Failure) -> (RequestKey?, String) {
        let start = parser.index + 1
        let escaped = try parser.scanString()
        let word = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(parser.bytes)[start..<(parser.index - 1)])
        if escaped {
            let key = _unescape(word)
            var utf8 = key
            let known = utf8.withUTF8 { requestKey(UnsafeRawBufferPointer($0)) }
            return (known, known == nil ? key : "")
        }
        if let known = requestKey(word) { return (known, "") }
        return (nil, _string(word))
    }

    @inline(__always)
    private static func requestKey(_ word: UnsafeRawBufferPointer) -> RequestKey? {
        switch word.count {
        case 4: return word.equals("meta") ? .meta : nil
        case 5: return word.equals("trace") ? .trace : nil
        case 7: return word.equals("pattern") ? .pattern : word.equals("request") ? .request : nil
        case 8: return word.equals("delegate") ? .delegate : nil
        default: return nil
        }
    }

    /// Walks a whole document that should be one JSON object, strictly: `key` reads each member's
    /// key (the cursor is at its opening quote), `value` consumes its value (the cursor is at its
    /// first byte). Returns `false` for a valid document that is not an object; throws for invalid
    /// JSON or data after the value.
    @inline(__always)
    private static func walkTopLevelObject<Key>(
        _ bytes: [UInt8],
        key readKey: (inout _JSONScanner) throws(Failure) -> Key,
        value readValue: (inout _JSONScanner, Key) throws(Failure) -> Void
    ) throws(Failure) -> Bool {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> Bool in
            var parser = _JSONScanner(bytes: buffer)
            parser.skipSpace()
            guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "{") else {
                _ = try parser.value(depth: 0, maxDepth: maxDepth)  // valid JSON, not an object; or throws
                parser.skipSpace()
                guard parser.index == buffer.count else {
                    throw parser.trailingData()
                }
                return false
            }
            parser.index += 1
            parser.skipSpace()
            if parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "}") {
                parser.index += 1
            } else {
                while true {
                    parser.skipSpace()
                    guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "\"") else {
                        throw parser.fail("expected a key")
                    }
                    let key = try readKey(&parser)
                    parser.skipSpace()
                    guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: ":") else {
                        throw parser.fail("expected ':'")
                    }
                    parser.index += 1
                    parser.skipSpace()
                    guard parser.index < buffer.count else { throw parser.fail("unexpected end of input") }
                    try readValue(&parser, key)
                    parser.skipSpace()
                    guard parser.index < buffer.count else { throw parser.fail("unterminated object") }
                    if buffer[parser.index] == UInt8(ascii: ",") {
                        parser.index += 1
                        continue
                    }
                    guard buffer[parser.index] == UInt8(ascii: "}") else { throw parser.fail("expected ',' or '}'") }
                    parser.index += 1
                    break
                }
            }
            parser.skipSpace()
            guard parser.index == buffer.count else {
                throw parser.trailingData()
            }
            return true
        }
    }

    /// Parses `range` of `bytes`.
    package static func parse(_ bytes: [UInt8], range: Range<Int>) throws(Failure) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) -> JSONValue in
            var parser = _JSONScanner(bytes: UnsafeBufferPointer(rebasing: buffer[range]))
            return try parser.value(depth: 0, maxDepth: maxDepth)
        }
    }

    enum ReplyKey { case result, error, other }

    /// Reads a key of a reply envelope without making a string: which of the two keys a typed
    /// caller reads it is (escaped spellings of them count too), or another one.
    static func keyKind(_ parser: inout _JSONScanner) throws(Failure) -> ReplyKey {
        let start = parser.index + 1
        let escaped = try parser.scanString()
        let word = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(parser.bytes)[start..<(parser.index - 1)])
        if !escaped {
            if word.equals("result") { return .result }
            if word.equals("error") { return .error }
            return .other
        }
        switch _unescape(word) {
        case "result": return .result
        case "error": return .error
        default: return .other
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these bytes are `name`'s UTF-8, compared byte by byte (the generic
    /// `elementsEqual` against a `String.UTF8View` cost about 160 instructions a key).
    @inline(__always)
    func equals(_ name: StaticString) -> Bool {
        let count = name.utf8CodeUnitCount
        guard self.count == count else { return false }
        let bytes = name.utf8Start
        for offset in 0..<count where self[offset] != bytes[offset] { return false }
        return true
    }
}
