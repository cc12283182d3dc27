import Dispatch
import Foundation
import HemeraJSON
import Testing

// The decoder keeps one state per thread, with cached keyed containers and a cursor that
// matches keys in document order: these tests cover what that reuse must not change.

private final class Tree: Codable, Equatable, @unchecked Sendable {
    var value: Int
    var children: [Tree]

    init(_ value: Int, _ children: [Tree] = []) {
        self.value = value
        self.children = children
    }

    static func == (lhs: Tree, rhs: Tree) -> Bool { lhs.value == rhs.value && lhs.children == rhs.children }
}

private struct Pair: Codable, Equatable {
    var a: Int
    var b: String
}

/// Decodes JSON held in a string with a decoder of its own, in the middle of the outer decode.
private struct Embedded: Decodable, Equatable {
    var before: Int
    var inner: Pair
    var after: String

    enum CodingKeys: String, CodingKey { case before, inner, after }

    init(before: Int, inner: Pair, after: String) {
        self.before = before
        self.inner = inner
        self.after = after
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        before = try container.decode(Int.self, forKey: .before)
        let text = try container.decode(String.self, forKey: .inner)
        inner = try HemeraJSONDecoder().decode(Pair.self, from: Array(text.utf8))
        after = try container.decode(String.self, forKey: .after)
    }
}

private struct SnakeCase: Codable, Equatable {
    var firstName: String
    var lastName: String
}

@Suite struct DecoderReuse {
    @Test func recursiveTypesNestTheSameKeyType() throws {
        let tree = Tree(1, [Tree(2, [Tree(3), Tree(4, [Tree(5)])]), Tree(6)])
        let bytes = try HemeraJSONEncoder().encode(tree)
        for _ in 0..<3 {
            #expect(try HemeraJSONDecoder().decode(Tree.self, from: bytes) == tree)
        }
        let broken = Array(#"{"value":1,"children":[{"value":2,"children":[]},{"children":[{"value":3}]}]}"#.utf8)
        #expect {
            try HemeraJSONDecoder().decode(Tree.self, from: broken)
        } throws: { error in
            "\(error)".contains("children.1.value: is required")
        }
    }

    @Test func keysInAnyOrderAndUnknownKeys() throws {
        let decoder = HemeraJSONDecoder()
        for text in [#"{"a":1,"b":"x"}"#, #"{"b":"x","a":1}"#, #"{"z":null,"b":"x","y":[1],"a":1}"#, #"{"a":1,"a2":2,"b":"x"}"#] {
            #expect(try decoder.decode(Pair.self, from: Array(text.utf8)) == Pair(a: 1, b: "x"), "\(text)")
        }
        #expect {
            try decoder.decode(Pair.self, from: Array(#"{"b":"x","c":1}"#.utf8))
        } throws: { error in
            "\(error)".contains("a: is required")
        }
    }

    @Test func aDecodeInsideADecode() throws {
        let text = #"{"before":1,"inner":"{\"a\":2,\"b\":\"y\"}","after":"z"}"#
        let value = try HemeraJSONDecoder().decode(Embedded.self, from: Array(text.utf8))
        #expect(value == Embedded(before: 1, inner: Pair(a: 2, b: "y"), after: "z"))
        // The thread's state is free again, and still right.
        #expect(try HemeraJSONDecoder().decode(Pair.self, from: Array(#"{"a":3,"b":"w"}"#.utf8)) == Pair(a: 3, b: "w"))
    }

    @Test func keyStrategiesOneAfterTheOther() throws {
        var snake = HemeraJSONDecoder()
        snake.keyDecodingStrategy = .convertFromSnakeCase
        let plain = HemeraJSONDecoder()
        let snakeText = Array(#"{"first_name":"Ada","last_name":"Lovelace"}"#.utf8)
        let plainText = Array(#"{"firstName":"Ada","lastName":"Lovelace"}"#.utf8)
        for _ in 0..<2 {
            #expect(try snake.decode(SnakeCase.self, from: snakeText) == SnakeCase(firstName: "Ada", lastName: "Lovelace"))
            #expect(try plain.decode(SnakeCase.self, from: plainText) == SnakeCase(firstName: "Ada", lastName: "Lovelace"))
            #expect(throws: DecodingError.self) { try plain.decode(SnakeCase.self, from: snakeText) }
        }
    }

    @Test func errorsLeaveTheStateUsable() throws {
        let decoder = HemeraJSONDecoder()
        for _ in 0..<3 {
            #expect(throws: DecodingError.self) { try decoder.decode(Pair.self, from: Array(#"{"a":"x","b":"y"}"#.utf8)) }
            #expect(throws: DecodingError.self) { try decoder.decode(Pair.self, from: Array(#"{"a":1,"b":"y""#.utf8)) }
            #expect(try decoder.decode(Pair.self, from: Array(#"{"a":1,"b":"y"}"#.utf8)) == Pair(a: 1, b: "y"))
        }
    }

    @Test func manyThreadsAtOnce() throws {
        let tree = Tree(1, [Tree(2, [Tree(3)]), Tree(4)])
        let bytes = try HemeraJSONEncoder().encode(tree)
        let order = try HemeraJSONEncoder().encode(sampleRequest)
        let failures = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<200 {
                let decoder = HemeraJSONDecoder()
                if (try? decoder.decode(Tree.self, from: bytes)) != tree { failures.add() }
                if (try? decoder.decode(AddRequest.self, from: order)) != sampleRequest { failures.add() }
            }
        }
        #expect(failures.value == 0)
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
