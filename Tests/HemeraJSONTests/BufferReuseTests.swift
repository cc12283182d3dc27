import Foundation
@testable import HemeraJSON
import Testing

/// Writers' blocks are kept when a writer ends and handed to the next writer (`_SpareBlocks`):
/// on the same thread, across threads through the shared pool, never past the size limit, and
/// never with another writer's bytes showing through.
@Suite struct BufferReuse {
    @Test func aWritersBlockGoesToTheNextWriterOfTheThread() {
        // A synchronous test runs on one thread from start to end. Four writers held meanwhile
        // empty this thread's cache (at most 4 blocks), so the first writer's block is the only
        // one kept when the second writer is made.
        let held = (0..<4).map { _ in JSONWriterBox(JSONWriter(capacity: 1)) }
        var first = JSONWriter(capacity: 4096)
        first.raw("{}")
        let firstCapacity = first.capacity
        #expect(firstCapacity >= 4096)
        _ = consume first
        let second = JSONWriter(capacity: 256)
        #expect(second.capacity == firstCapacity)
        #expect(second.count == 0)
        withExtendedLifetime(held) {}
    }

    @Test func largeBlocksAreFreedNotKept() {
        var large = JSONWriter(capacity: 64 * 1024)
        large.raw("[]")
        _ = consume large
        let next = JSONWriter(capacity: 16 * 1024)
        #expect(next.capacity < 64 * 1024)
    }

    @Test func aThreadKeepsFourBlocksAndThePoolSixteen() {
        var cache = _SpareCache()
        defer { cache.freeAll() }
        let blocks = (0..<5).map { _SpareBlock(base: .allocate(capacity: 100 * ($0 + 1)), capacity: 100 * ($0 + 1)) }
        var keptAll = true
        for block in blocks.prefix(4) where !cache.keep(block) { keptAll = false }
        #expect(keptAll)
        let keptFifth = cache.keep(blocks[4])
        #expect(!keptFifth)
        blocks[4].base.deallocate()
        // The most recently kept block that is large enough.
        let takes = (0..<3).map { _ in cache.take(atLeast: 250)?.capacity }
        #expect(takes == [400, 300, nil])
        #expect(cache.count == 2)
        for block in [blocks[2], blocks[3]] { block.base.deallocate() }

        let pool = _SharedSpareBlocks()
        let pooled = (0..<17).map { _ in _SpareBlock(base: .allocate(capacity: 64), capacity: 64) }
        #expect(pooled.prefix(16).allSatisfy { pool.keep($0) })
        #expect(!pool.keep(pooled[16]))
        var taken: [_SpareBlock] = []
        while let block = pool.take(atLeast: 64) { taken.append(block) }
        #expect(taken.count == 16)
        #expect(pool.take(atLeast: 65)?.capacity == nil)
        // The blocks taken out and the one refused are this test's; any left in the pool are
        // freed by its deinit.
        for block in taken { block.base.deallocate() }
        pooled[16].base.deallocate()
    }

    @Test func blocksFreedOnOneThreadServeAnother() async throws {
        // The shared pool is how a block moves between threads: kept by one, taken by another.
        let pool = _SharedSpareBlocks()
        let done = DispatchSemaphore(value: 0)
        let address = PointerBox()
        let thread = Thread { () -> Void in
            let block = _SpareBlock(base: .allocate(capacity: 512), capacity: 512)
            address.value = UInt(bitPattern: block.base)
            _ = pool.keep(block)
            done.signal()
        }
        thread.start()
        #expect(done.wait(timeout: .now() + 10) == .success)
        let block = try #require(pool.take(atLeast: 300))
        #expect(UInt(bitPattern: block.base) == address.value)
        block.base.deallocate()
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

/// An address written by one thread and read by another after a semaphore.
///
/// `@unchecked Sendable`: written before `DispatchSemaphore.signal()` and read after the matching
/// `wait()`, which orders the two.
final class PointerBox: @unchecked Sendable {
    var value: UInt = 0
}
