// libFuzzer target for HemeraJSON: `make fuzz-json` (FUZZ_SECONDS=600 for a long run).
//
// Compiled together with Sources/HemeraJSON/*.swift into one module, optimized (-O: the release
// build users run), with address sanitizer (see the Makefile), so the plain `swift build` never
// sees it. Any input must give a value or an error, never a trap, a leak or a memory error; what
// parses must survive a write and a read unchanged; the layer's three readers (the decoder's
// tape, `JSONValue(parsing:)`, the envelope parser) must agree; and jansson, an independent
// parser, is the oracle: whatever it accepts, we accept with the same meaning.
internal import CJansson

struct FuzzMeta: Codable, Equatable {
    var id: String
    var retries: Int8
    var tags: [String]?
    var ratio: Float?
}

struct FuzzRequest: Codable, Equatable {
    var topic: String
    var cmd: String
    var a: Int
    var b: Double?
    var flag: Bool?
    var meta: FuzzMeta?
    var list: [UInt16]?
    var any: JSONValue?
    var dict: [Int: String]?

    static func == (lhs: FuzzRequest, rhs: FuzzRequest) -> Bool {
        lhs.topic == rhs.topic && lhs.cmd == rhs.cmd && lhs.a == rhs.a && lhs.b == rhs.b && lhs.flag == rhs.flag
            && lhs.meta == rhs.meta && lhs.list == rhs.list && lhs.dict == rhs.dict
            && (lhs.any == nil) == (rhs.any == nil) && sameJSON(lhs.any ?? .null, rhs.any ?? .null)
    }
}

indirect enum FuzzTree: Codable, Equatable {
    case leaf(Int)
    case node([FuzzTree])
}

/// Equality of JSON meaning: an integral double and the equal integer are the same number.
func sameJSON(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.integer(let l), .double(let r)), (.double(let r), .integer(let l)):
        return Double(l) == r
    case (.array(let l), .array(let r)):
        return l.count == r.count && zip(l, r).allSatisfy { sameJSON($0, $1) }
    case (.object(let l), .object(let r)):
        return l.count == r.count && l.allSatisfy { key, value in r[key].map { sameJSON(value, $0) } ?? false }
    default:
        return lhs == rhs
    }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

func roundTrip<T: Codable & Equatable>(_ type: T.Type, _ input: UnsafeRawBufferPointer, _ decoder: HemeraJSONDecoder) {
    guard let value = try? decoder.decode(type, from: input) else { return }
    let encoder = HemeraJSONEncoder()
    guard let bytes = try? encoder.encode(value) else { return }  // e.g. a non-finite Float
    let again = try? HemeraJSONDecoder().decode(type, from: bytes)
    check(again == value, "\(T.self) did not survive: \(String(decoding: bytes, as: UTF8.self))")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    fuzzEnvelopeParser(input)
    fuzzAgainstJansson(input)

    if let value = try? JSONValue(parsing: input) {
        let bytes: [UInt8]
        do { bytes = try value.serialized() } catch { fatalError("parsed but cannot serialize: \(error)") }
        let again: JSONValue
        do { again = try JSONValue(parsing: bytes) } catch {
            fatalError("own output does not parse: \(error) \(String(decoding: bytes, as: UTF8.self))")
        }
        check(sameJSON(value, again), "value changed: \(String(decoding: bytes, as: UTF8.self))")
        var sorted = HemeraJSONEncoder()
        sorted.outputFormatting = [.sortedKeys, .prettyPrinted]
        if let pretty = try? sorted.encode(value) {
            check((try? JSONValue(parsing: pretty)).map { sameJSON($0, value) } ?? false, "pretty output differs")
        }
        check((try? HemeraJSONDecoder().decode(JSONValue.self, from: value)) == value, "decode from value differs")
    }

    var lenient = HemeraJSONDecoder()
    lenient.convertsStrings = true
    lenient.allowsDuplicateKeys = true
    lenient.keyDecodingStrategy = .convertFromSnakeCase
    for decoder in [HemeraJSONDecoder(), lenient] {
        roundTrip(FuzzRequest.self, input, decoder)
        roundTrip([FuzzMeta].self, input, decoder)
        roundTrip(FuzzTree.self, input, decoder)
    }
    if let error = (Result { try HemeraJSONDecoder().decode(FuzzRequest.self, from: input) }).failure as? DecodingError {
        _ = JSONDecodingIssue(error).message
    }
    return 0
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// The facade's envelope parser (package API of this layer) against jansson: it never traps;
/// what both accept means the same; whatever jansson accepts within its nesting limit, it
/// accepts too; a request envelope's kept byte ranges parse.
func fuzzEnvelopeParser(_ input: UnsafeRawBufferPointer) {
    let bytes = [UInt8](input)
    var lenient = HemeraJSONDecoder()
    lenient.allowsDuplicateKeys = true
    let slow = try? lenient.decode(JSONValue.self, from: input)
    do {
        let fast = try EnvelopeParser.parse(bytes)
        if let slow { check(sameJSON(fast, slow), "EnvelopeParser and jansson disagree") }
    } catch {
        check(slow == nil || error.reason == "nesting too deep", "EnvelopeParser rejects what jansson accepts: \(error)")
    }
    if let envelope = try? EnvelopeParser.parseRequestEnvelope(bytes) {
        for range in [envelope.trace, envelope.request].compactMap({ $0 }) {
            check((try? EnvelopeParser.parse(bytes, range: range)) != nil, "a kept envelope range does not parse")
        }
    }
}

/// jansson's tree as a value (integers as `Int64`, reals as doubles).
func janssonValue(_ node: UnsafeMutablePointer<json_t>) -> JSONValue {
    switch CJansson_typeof(node) {
    case JSON_OBJECT:
        var members: [String: JSONValue] = [:]
        var iterator = json_object_iter(node)
        while let current = iterator {
            let key = UnsafeRawBufferPointer(start: json_object_iter_key(current), count: json_object_iter_key_len(current))
            members[String(decoding: key, as: UTF8.self)] = janssonValue(json_object_iter_value(current))
            iterator = json_object_iter_next(node, current)
        }
        return .object(members)
    case JSON_ARRAY:
        return .array((0..<json_array_size(node)).map { janssonValue(json_array_get(node, $0)) })
    case JSON_STRING:
        return .string(String(decoding: UnsafeRawBufferPointer(start: json_string_value(node), count: json_string_length(node)), as: UTF8.self))
    case JSON_INTEGER: return .integer(Int64(json_integer_value(node)))
    case JSON_REAL: return .double(json_real_value(node))
    case JSON_TRUE: return .bool(true)
    case JSON_FALSE: return .bool(false)
    default: return .null
    }
}

/// jansson as the oracle: what it accepts (within our nesting limit), we accept with the same
/// meaning; what we accept and it rejects must be one of the cases where jansson is known to be
/// wrong or narrower (integer text beyond Int64, `\u0000` in keys, a NUL byte it stops at).
func fuzzAgainstJansson(_ input: UnsafeRawBufferPointer) {
    guard let base = input.baseAddress, input.count > 0 else { return }
    var error = CJansson_error()
    let flags = Int(JSON_DECODE_ANY) | Int(JSON_ALLOW_NUL) | Int(JSON_REJECT_DUPLICATES)
    let root = CJansson_loadb(base.assumingMemoryBound(to: CChar.self), input.count, flags, &error)
    defer { if let root { CJansson_decref(root) } }
    let ours = Result { try HemeraJSONDecoder().decode(JSONValue.self, from: input) }
    let hasNUL = CJansson_find_nul(base, input.count) >= 0
    if let root, !hasNUL {
        switch ours {
        case .success(let value):
            check(sameJSON(value, janssonValue(root)), "jansson and the decoder disagree")
        case .failure(let failure):
            let limit = (failure as? DecodingError).map { error -> Bool in
                if case .dataCorrupted(let context) = error { return context.underlyingError is JSONLimitError }
                return false
            } ?? false
            check(limit, "the decoder rejects what jansson accepts: \(failure)")
        }
    } else if root == nil, case .success = ours {
        let reason = withUnsafeBytes(of: &error.text) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        check(
            reason.contains("too big") || reason.contains("NUL byte in object key"),
            "the decoder accepts what jansson rejects: \(reason)")
    }
    if hasNUL, case .success = ours { check(false, "the decoder accepts a raw NUL byte") }
}
