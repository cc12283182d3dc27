import Foundation
import HemeraJSON
import Testing

/// The error thrown for `input`, which must be a `DecodingError.dataCorrupted`.
func corruption(_ input: [UInt8], _ decoder: HemeraJSONDecoder = HemeraJSONDecoder(),
                sourceLocation: SourceLocation = #_sourceLocation) -> (String, (any Error)?) {
    do {
        _ = try decoder.decode(JSONValue.self, from: input)
        Issue.record("accepted \(input.prefix(40))", sourceLocation: sourceLocation)
    } catch DecodingError.dataCorrupted(let context) {
        return (context.debugDescription, context.underlyingError)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
    return ("", nil)
}

@Suite struct HostileInput {
    @Test func invalidAndTruncated() {
        for input in ["", "{", #"{"a":"#, #"{"a":1"#, "[1,2", #""abc"#, "tru", "nul", "{} x", "[1,]", "{'a':1}",
                      "01", "1.", "-", "NaN", "Infinity", #"{"a" 1}"#, "\u{FEFF}{}", "/* c */ {}"] {
            let (text, underlying) = corruption(bytes(input))
            #expect(underlying is JSONSyntaxError, "\(input)")
            #expect(text.contains("invalid JSON") || text.contains("empty"), "\(input): \(text)")
        }
        let (text, _) = corruption(bytes(#"{"a":1"#))
        #expect(text.hasPrefix("invalid JSON at line 1, column"))
    }

    @Test func invalidUTF8() {
        for input: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
                               [0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D], [0xFE]] {
            let (_, underlying) = corruption(input)
            #expect(underlying is JSONSyntaxError, "\(input)")
        }
        // A lone surrogate escape is not a character either.
        let (_, underlying) = corruption(bytes(#""\ud800""#))
        #expect(underlying is JSONSyntaxError)
    }

    @Test func nulBytes() throws {
        // Escaped NUL is a character like any other (as in Foundation and JavaScript)...
        let text = try HemeraJSONDecoder().decode(String.self, from: bytes(#""a\u0000b""#))
        #expect(text == "a\u{0}b" && text.utf8.count == 3)
        #expect(try HemeraJSONEncoder().encode(text) == bytes(#""a\u0000b""#))
        let value = try JSONValue(parsing: bytes(#"{"k":"\u0000"}"#))
        #expect(value["k"] == "\u{0}")
        // ...a raw NUL byte is a control character, which JSON forbids: in a string or outside.
        #expect(corruption([0x22, 0x61, 0x00, 0x22]).1 is JSONSyntaxError)
        #expect(corruption([0x31, 0x00]).1 is JSONSyntaxError)
        // A reader that stops at a NUL byte (jansson did) would accept what came before.
        let (nulText, _) = corruption(bytes("{}") + [0x00] + bytes(#"{"evil":1}"#))
        #expect(nulText.contains("NUL byte"))
        // An escaped NUL in a key is valid JSON, and a key like any other (issue 11).
        #expect(try JSONValue(parsing: bytes(#"{"a\u0000b":1}"#)) == ["a\u{0}b": 1])
    }

    @Test func deepNesting() throws {
        func nested(_ depth: Int) -> [UInt8] {
            bytes(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        }
        // Within the limit: fine, also on a secondary thread's smaller stack.
        _ = try JSONValue(parsing: nested(500))
        // Beyond the limit, however deep: errors, not crashes (the parser is iterative).
        let (text, underlying) = corruption(nested(600))
        #expect(underlying is JSONLimitError)
        #expect(text.contains("nesting deeper than 512 levels"))
        let (deeper, deeperCause) = corruption(nested(100_000))
        #expect(deeperCause is JSONLimitError)
        #expect(deeper.contains("nesting deeper than 512 levels"))
        #expect(throws: DecodingError.self) { try JSONValue(parsing: nested(100_000)) }
        // Objects too, and typed recursion.
        let objects = bytes(String(repeating: #"{"a":"#, count: 1000) + "1" + String(repeating: "}", count: 1000))
        #expect(corruption(objects).1 is JSONLimitError)
        final class Node: Decodable { var a: Node? }
        #expect(throws: DecodingError.self) { try HemeraJSONDecoder().decode(Node.self, from: objects) }
        // A lower limit is honoured.
        var shallow = HemeraJSONDecoder()
        shallow.maxDepth = 3
        #expect(throws: DecodingError.self) { try shallow.decode([[[[Int]]]].self, from: bytes("[[[[1]]]]")) }
        #expect(try shallow.decode([[Int]].self, from: bytes("[[1]]")) == [[1]])
    }

    @Test func deepNestingOffTheMainThread() async throws {
        let input = bytes(String(repeating: "[", count: 511) + String(repeating: "]", count: 511))
        let depth = try await Task.detached { () throws -> Int in
            var value = try JSONValue(parsing: input)
            var depth = 0
            while case .array(let elements) = value {
                depth += 1
                guard let first = elements.first else { break }
                value = first
            }
            return depth
        }.value
        #expect(depth == 511)
    }

    @Test func bigNumbers() throws {
        // Integer text beyond Int64 is a number like any other: a double (issue 11).
        #expect(try HemeraJSONDecoder().decode(JSONValue.self, from: bytes(#"{"a":18446744073709551616}"#)) == ["a": 18446744073709551616.0])
        #expect(try HemeraJSONDecoder().decode(JSONValue.self, from: bytes("[9223372036854775808]")) == [9223372036854775808.0])
        #expect(try HemeraJSONDecoder().decode(JSONValue.self, from: bytes("-9223372036854775809")) == .double(-9223372036854775809.0))
        // Integer targets read it exactly: out of range is a typed error, never a neighbour.
        #expect(throws: DecodingError.self) { try HemeraJSONDecoder().decode(UInt64.self, from: bytes("18446744073709551616")) }
        #expect(throws: DecodingError.self) { try HemeraJSONDecoder().decode(Int64.self, from: bytes("-9223372036854775809")) }
        #expect(try HemeraJSONDecoder().decode(UInt64.self, from: bytes("18446744073709551615")) == .max)
        // Beyond Double's range: rejected.
        #expect(corruption(bytes("1e400")).1 is JSONSyntaxError)
        #expect((try? HemeraJSONDecoder().decode(Int64.self, from: bytes("-9223372036854775808"))) == .min)
        #expect((try? HemeraJSONDecoder().decode(Double.self, from: bytes("1e-400"))) == 0)
    }

    @Test func duplicateKeys() throws {
        let input = bytes(#"{"a":1,"a":2}"#)
        let (text, underlying) = corruption(input)
        #expect(underlying is JSONSyntaxError)
        #expect(text.contains("duplicate object key"))
        var lenient = HemeraJSONDecoder()
        lenient.allowsDuplicateKeys = true
        #expect(try lenient.decode(JSONValue.self, from: input) == ["a": 2])
    }

    @Test func largeDocuments() throws {
        let element = #"{"id":"abcdefgh","n":12345,"xs":[1,2,3]}"#
        let big = bytes("[" + Array(repeating: element, count: 100_000).joined(separator: ",") + "]")
        #expect(big.count > 4_000_000)
        struct Item: Codable { var id: String; var n: Int; var xs: [Int] }
        let items = try HemeraJSONDecoder().decode([Item].self, from: big)
        #expect(items.count == 100_000)
        var limited = HemeraJSONDecoder()
        limited.maxInputLength = 1 << 20
        let (text, underlying) = corruption(big, limited)
        #expect(underlying is JSONLimitError)
        #expect(text.contains("more than the limit of 1048576"))
        #expect(JSONDecodingIssue(DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: text,
            underlyingError: underlying))).kind == .invalidJSON)
    }

    @Test func garbageNeverTraps() {
        // A cheap deterministic sweep; the libFuzzer target (make fuzz-json) goes much further.
        var generator = SystemRandomNumberGenerator()
        let alphabet = bytes(#"{}[]":,0123456789.eE+-truefalsnl\u "#) + [0x00, 0xFF, 0xC3, 0xA9]
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<40, using: &generator)
            let input = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? HemeraJSONDecoder().decode(JSONValue.self, from: input)
            _ = try? HemeraJSONDecoder().decode(AddRequest.self, from: input)
        }
    }
}

@Suite struct ParseArenas {
    /// A type whose decoding parses another document (arenas nest).
    struct Envelope: Decodable, Equatable {
        var inner: Meta
        var tree: JSONValue
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            let text = try container.decode(String.self, forKey: AnyKey(stringValue: "payload"))
            inner = try HemeraJSONDecoder().decode(Meta.self, from: bytes(text))
            tree = try HemeraJSONDecoder().decode(JSONValue.self, from: ["built": [1, 2, "x"]] as JSONValue)
        }
    }

    @Test func nestedParses() throws {
        let outer = #"{"payload":"{\"id\":\"a\",\"retries\":1,\"tags\":[\"t\"]}"}"#
        let value = try HemeraJSONDecoder().decode(Envelope.self, from: bytes(outer))
        #expect(value.inner == Meta(id: "a", retries: 1, tags: ["t"]))
        #expect(value.tree == ["built": [1, 2, "x"]])
    }

    @Test func concurrentDecodes() async throws {
        let payload = try HemeraJSONEncoder().encode(sampleRequest)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 {
                        guard try HemeraJSONDecoder().decode(AddRequest.self, from: payload) == sampleRequest else { return false }
                    }
                    return true
                }
            }
            return try await group.reduce(true) { $0 && $1 }
        }
        #expect(results)
    }

    @Test func treesThatOutgrowTheirArena() throws {
        // Long strings make the tree much larger than the arena sized from the input.
        let strings = (0..<50).map { String(repeating: "s\($0)", count: 200) }
        let input = try HemeraJSONEncoder().encode(strings)
        #expect(try HemeraJSONDecoder().decode([String].self, from: input) == strings)
        let objects = (0..<2000).map { ["k\($0)": JSONValue.integer(Int64($0))] as JSONValue }
        #expect(try JSONValue(parsing: JSONValue.array(objects).serialized()) == .array(objects))
    }
}
