// Spare memory blocks for `_ByteBuffer`: every envelope, reply and encoded value is written into
// one, and a typed act made and freed four of them (request and reply, client and service), each a
// malloc and a free. A freed block of up to 16 KiB is kept for the next buffer instead: first in
// the freeing thread's own cache (no lock), then in a small shared pool (a mutex), because buffers
// are often made on one thread (a NATS delivery thread) and freed on another (a task's).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A block of bytes owned by nobody while it waits in a cache.
struct _SpareBlock {
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int
}

/// One thread's spare blocks: a fixed array allocated with the cache (no Swift collection, so no
/// allocation to keep or take a block).
struct _SpareCache {
    static let slots = 4
    let blocks: UnsafeMutablePointer<_SpareBlock> = .allocate(capacity: slots)
    var count = 0

    /// Takes the most recently kept block of at least `capacity` bytes, if any.
    mutating func take(atLeast capacity: Int) -> _SpareBlock? {
        var index = count - 1
        while index >= 0 {
            // Safe: slots `0..<count` are initialized (trivial values: a pointer and an Int).
            let block = blocks[index]
            if block.capacity >= capacity {
                // Keep the slots packed: the last one moves into the hole.
                blocks[index] = blocks[count - 1]
                count -= 1
                return block
            }
            index -= 1
        }
        return nil
    }

    /// Keeps `block` if there is room; returns whether it did.
    mutating func keep(_ block: _SpareBlock) -> Bool {
        guard count < Self.slots else { return false }
        (blocks + count).initialize(to: block)
        count += 1
        return true
    }

    /// Frees every block kept, and the slots.
    mutating func freeAll() {
        while let block = take(atLeast: 0) { block.base.deallocate() }
        blocks.deallocate()
    }
}

/// The shared pool: at most `limit` blocks behind a pthread mutex. Its storage is allocated once
/// for the process and never freed (it is reached from a global).
///
/// `@unchecked Sendable`: `blocks` and `count` are read and written only between
/// `pthread_mutex_lock` and `pthread_mutex_unlock` of `mutex`, and the pointers are immutable
/// after `init`.
final class _SharedSpareBlocks: @unchecked Sendable {
    static let limit = 16
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let blocks: UnsafeMutablePointer<_SpareBlock>
    private var count = 0

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let error = pthread_mutex_init(mutex, nil)
        precondition(error == 0, "pthread_mutex_init failed: \(error)")
        blocks = .allocate(capacity: Self.limit)
    }

    /// Frees the blocks kept, the slots and the mutex (the process's pool, reached from a global,
    /// is never deinitialized; pools made elsewhere, as in tests, are).
    deinit {
        for index in 0..<count { blocks[index].base.deallocate() }
        blocks.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func take(atLeast capacity: Int) -> _SpareBlock? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        var index = count - 1
        while index >= 0 {
            // Safe: slots `0..<count` are initialized (trivial values: a pointer and an Int).
            let block = blocks[index]
            if block.capacity >= capacity {
                blocks[index] = blocks[count - 1]
                count -= 1
                return block
            }
            index -= 1
        }
        return nil
    }

    func keep(_ block: _SpareBlock) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard count < Self.limit else { return false }
        (blocks + count).initialize(to: block)
        count += 1
        return true
    }
}

/// The pthread key of each thread's `_SpareCache`: a Swift global, so created once and defined
/// once in every build mode (issue 11: no C `static inline` state). The destructor frees a
/// thread's blocks and its cache when the thread exits.
private let _spareCacheKey: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
        let pointer: UnsafeMutableRawPointer? = raw
        guard let pointer else { return }
        let cache = pointer.assumingMemoryBound(to: _SpareCache.self)
        cache.pointee.freeAll()
        cache.deinitialize(count: 1)
        cache.deallocate()
    }
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
}()

private let _sharedSpareBlocks = _SharedSpareBlocks()

enum _SpareBlocks {
    /// Blocks larger than this are freed, not kept: a burst of large documents must not stay
    /// resident. At most 4 per thread and 16 shared, so at most 64 KiB per thread and 256 KiB
    /// shared are held.
    static let maxCapacity = 16 * 1024

    /// This thread's cache, made on first use.
    @inline(__always) static var threadCache: UnsafeMutablePointer<_SpareCache> {
        let key = _spareCacheKey
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: _SpareCache.self) }
        let cache = UnsafeMutablePointer<_SpareCache>.allocate(capacity: 1)
        cache.initialize(to: _SpareCache())
        pthread_setspecific(key, cache)
        return cache
    }

    /// A block of at least `capacity` bytes: a kept one if any fits, else a new one.
    @inline(__always) static func allocate(atLeast capacity: Int) -> _SpareBlock {
        if capacity <= maxCapacity {
            // Safe: the cache belongs to this thread alone (a pthread key's value).
            if let block = threadCache.pointee.take(atLeast: capacity) ?? _sharedSpareBlocks.take(atLeast: capacity) {
                return block
            }
        }
        return _SpareBlock(base: .allocate(capacity: capacity), capacity: capacity)
    }

    /// Gives a block back: kept by this thread, else by the shared pool, else freed. The block's
    /// owner must not touch it afterwards (its buffer is being destroyed or has moved on).
    @inline(__always) static func release(_ block: _SpareBlock) {
        if block.capacity <= maxCapacity, threadCache.pointee.keep(block) || _sharedSpareBlocks.keep(block) { return }
        block.base.deallocate()
    }
}
