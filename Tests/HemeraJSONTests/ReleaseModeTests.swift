import HemeraJSON
import Testing

/// Shapes that aborted the process (`free(): invalid pointer`) in release builds while the parser
/// was jansson behind a thread-local arena reached through a `static inline` C function: each
/// object file had its own copy of the thread-local, so one file allocated in one copy and another
/// freed through a different one (issue 11). They pass in debug either way: they prove the fix only
/// when run by `swift test -c release -Xswiftc -enable-testing`, which `make test` does.
@Suite struct ReleaseModeShapes {
    @Test func smallArrayOfEmptyObjects() throws {
        let value = try JSONValue(parsing: bytes("[{},{},{},{},{},{},{},{}]"))
        #expect(value == .array(Array(repeating: .object([:]), count: 8)))
        let twenty = try JSONValue(parsing: bytes("[" + Array(repeating: "{}", count: 20).joined(separator: ",") + "]"))
        #expect(twenty.arrayValue?.count == 20)
    }

    @Test func arrayOfSmallDictionaries() throws {
        let dictionaries = (0..<30).map { ["k\($0)": $0, "n": $0 * 2] }
        let input = try HemeraJSONEncoder().encode(dictionaries)
        #expect(input.count > 300)
        #expect(try HemeraJSONDecoder().decode([[String: Int]].self, from: input) == dictionaries)
    }

    @Test func nestingThroughJSONValueAndTheDecoder() throws {
        for depth in [20, 64, 150, 200, 255] {  // two levels each: up to 510 of the 512 allowed
            let input = bytes(String(repeating: #"{"a":["#, count: depth) + "1" + String(repeating: "]}", count: depth))
            var value = try JSONValue(parsing: input)
            var levels = 0
            while case .object(let members) = value, case .array(let elements)? = members["a"],
                let first = elements.first
            {
                levels += 1
                value = first
            }
            #expect(levels == depth && value == 1)
            #expect(try HemeraJSONDecoder().decode(JSONValue.self, from: input) == JSONValue(parsing: input))
        }
        indirect enum Tree: Decodable, Equatable {
            case leaf
            case node(Tree)
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: AnyKey.self)
                if let next = try container.decodeIfPresent(Tree.self, forKey: AnyKey(stringValue: "a")) {
                    self = .node(next)
                } else {
                    self = .leaf
                }
            }
        }
        let typed = bytes(String(repeating: #"{"a":"#, count: 200) + "{}" + String(repeating: "}", count: 200))
        var tree = try HemeraJSONDecoder().decode(Tree.self, from: typed)
        var count = 0
        while case .node(let next) = tree {
            count += 1
            tree = next
        }
        #expect(count == 200)
    }

    @Test func documentsOfSeveralMegabytes() throws {
        let record = #"{"id":"abcdefgh","name":"a product with a name","price":12.5,"tags":["x","y"],"ok":true}"#
        let input = bytes("[" + Array(repeating: record, count: 40_000).joined(separator: ",") + "]")
        #expect(input.count > 3_000_000)
        let value = try JSONValue(parsing: input)
        #expect(value.arrayValue?.count == 40_000)
        struct Product: Decodable {
            var id: String; var name: String; var price: Double; var tags: [String]; var ok: Bool
        }
        let products = try HemeraJSONDecoder().decode([Product].self, from: input)
        #expect(products.count == 40_000 && products[39_999].price == 12.5)
    }

    @Test func repeatedParsesOnManyThreads() async throws {
        let input = bytes(#"[{},{"a":[{},{}]},{"b":{"c":{}}},[],{},{},{},{}]"#)
        let ok = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<2000 {
                        guard try JSONValue(parsing: input).arrayValue?.count == 8 else { return false }
                        _ = try HemeraJSONDecoder().decode([JSONValue].self, from: input)
                    }
                    return true
                }
            }
            return try await group.reduce(true) { $0 && $1 }
        }
        #expect(ok)
    }
}
