import Foundation
import HemeraJSON
import Testing

/// Writers' blocks are kept when a writer ends and handed to the next writer (`_SpareBlocks`):
/// on the same thread, across threads through the shared pool, never past the size limit, and
/// never with another writer's bytes showing through.
@Suite struct BufferReuse {
    @Test func aWritersBlockGoesToTheNextWriterOfTheThread() {
        // A synchronous test runs on one thread from start to end.
        var first = JSONWriter(capacity: 4096)
        first.raw("{}")
        // (A larger block kept earlier on this thread may serve it.)
        let firstCapacity = first.capacity
        #expect(firstCapacity >= 4096)
        _ = consume first
        let second = JSONWriter(capacity: 256)
        // The first writer's block was the last one kept, so it serves the smaller request.
        #expect(second.capacity == firstCapacity)
        #expect(second.count == 0)
    }

    @Test func largeBlocksAreFreedNotKept() {
        var large = JSONWriter(capacity: 64 * 1024)
        large.raw("[]")
        _ = consume large
        let next = JSONWriter(capacity: 16 * 1024)
        #expect(next.capacity < 64 * 1024)
    }

    @Test func blocksFreedOnOneThreadServeAnother() throws {
        // Five writers of an unusual size (12,345 bytes) end on a thread of their own: four stay
        // in that thread's cache, the fifth goes to the shared pool, where this thread finds it.
        let size = 12_345
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            var writers: [JSONWriterBox] = []
            for _ in 0..<5 { writers.append(JSONWriterBox(JSONWriter(capacity: size))) }
            writers.removeAll()
            done.signal()
        }
        thread.start()
        #expect(done.wait(timeout: .now() + 10) == .success)
        // Asking for less than that size, only a kept block can be exactly 12,345 bytes. Writers
        // stay alive meanwhile, so this thread's own kept blocks (at most 4) are used up first.
        var held: [JSONWriterBox] = []
        var found = false
        for _ in 0..<24 where !found {
            let writer = JSONWriter(capacity: 12_000)
            found = writer.capacity == size
            held.append(JSONWriterBox(writer))
        }
        #expect(found)
        held.removeAll()
    }

    @Test func concurrentEncodesNeverShareBytes() async throws {
        struct Item: Codable, Equatable {
            var id: Int
            var name: String
            var tags: [String]
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    let encoder = HemeraJSONEncoder()
                    let decoder = HemeraJSONDecoder()
                    for index in 0..<2_000 {
                        let item = Item(
                            id: worker * 100_000 + index,
                            name: String(repeating: "n\(worker)", count: index % 300),
                            tags: (0..<(index % 7)).map { "t\($0)-\(worker)" }
                        )
                        let bytes = try encoder.encode(item)
                        #expect(try decoder.decode(Item.self, from: bytes) == item)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// A class holding a writer (a `~Copyable` value cannot go into an array directly).
final class JSONWriterBox {
    var writer: JSONWriter
    init(_ writer: consuming JSONWriter) { self.writer = writer }
}
