/// The pending requests of a ``RequestTable``, by id, with the subject each was sent to.
///
/// Request ids come from a counter, so the requests in flight at any moment have nearby ids: a
/// power-of-two array of slots indexed by `id & mask` holds them without hashing (a dictionary
/// cost about 0.25 µs per request at 256 in flight: two tables, three hashed operations each way).
/// An id whose slot is still held by an older request (one with a much longer timeout than the
/// requests around it) goes to a small overflow dictionary instead. The slot array doubles when
/// it is half full, so in steady state collisions are rare and the overflow stays empty.
///
/// Not thread-safe: it lives inside the table's lock.
struct PendingRequests {
    private struct Slot {
        /// 0 when free (ids start at 1).
        var id: UInt64 = 0
        var waiter: RequestTable.Waiter = .reserved
        var subject: String = ""
    }

    private var slots: [Slot]
    private var mask: Int
    private var overflow: [UInt64: (waiter: RequestTable.Waiter, subject: String)] = [:]
    /// The number of pending requests.
    private(set) var count = 0

    init(capacity: Int = 64) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        self.slots = Array(repeating: Slot(), count: capacity)
        self.mask = capacity - 1
    }

    var isEmpty: Bool { self.count == 0 }

    /// The waiter of request `id`, or nil when it is not pending.
    subscript(id: UInt64) -> RequestTable.Waiter? {
        let index = Int(truncatingIfNeeded: id) & self.mask
        if self.slots[index].id == id { return self.slots[index].waiter }
        if self.overflow.isEmpty { return nil }
        return self.overflow[id]?.waiter
    }

    /// Adds request `id` (not pending yet).
    mutating func insert(_ id: UInt64, _ waiter: RequestTable.Waiter, subject: String) {
        precondition(id != 0, "request ids start at 1")
        if (self.count + 1) * 2 > self.slots.count { self.grow() }
        let index = Int(truncatingIfNeeded: id) & self.mask
        if self.slots[index].id == 0 {
            self.slots[index] = Slot(id: id, waiter: waiter, subject: subject)
        } else {
            self.overflow[id] = (waiter, subject)
        }
        self.count += 1
    }

    /// Replaces the waiter of pending request `id`; returns false when it is not pending.
    @discardableResult
    mutating func update(_ id: UInt64, _ waiter: RequestTable.Waiter) -> Bool {
        let index = Int(truncatingIfNeeded: id) & self.mask
        if self.slots[index].id == id {
            self.slots[index].waiter = waiter
            return true
        }
        if self.overflow[id] != nil {
            self.overflow[id]!.waiter = waiter
            return true
        }
        return false
    }

    /// Removes request `id` and returns its waiter, or nil when it was not pending.
    mutating func remove(_ id: UInt64) -> RequestTable.Waiter? {
        let index = Int(truncatingIfNeeded: id) & self.mask
        if self.slots[index].id == id {
            let waiter = self.slots[index].waiter
            self.slots[index] = Slot()
            self.count -= 1
            return waiter
        }
        if self.overflow.isEmpty { return nil }
        guard let entry = self.overflow.removeValue(forKey: id) else { return nil }
        self.count -= 1
        return entry.waiter
    }

    /// Removes every pending request for which `shouldRemove(waiter, subject)` is true and
    /// returns their waiters.
    mutating func removeAll(
        where shouldRemove: (RequestTable.Waiter, String) -> Bool
    ) -> [RequestTable.Waiter] {
        var removed: [RequestTable.Waiter] = []
        for index in self.slots.indices where self.slots[index].id != 0 {
            if shouldRemove(self.slots[index].waiter, self.slots[index].subject) {
                removed.append(self.slots[index].waiter)
                self.slots[index] = Slot()
            }
        }
        for (id, entry) in self.overflow where shouldRemove(entry.waiter, entry.subject) {
            removed.append(entry.waiter)
            self.overflow[id] = nil
        }
        self.count -= removed.count
        return removed
    }

    /// Doubles the slot array and moves every pending request (overflow included) to its new slot.
    private mutating func grow() {
        let old = self.slots
        let oldOverflow = self.overflow
        self.slots = Array(repeating: Slot(), count: old.count * 2)
        self.mask = self.slots.count - 1
        self.overflow = [:]
        func place(_ slot: Slot) {
            let index = Int(truncatingIfNeeded: slot.id) & self.mask
            if self.slots[index].id == 0 {
                self.slots[index] = slot
            } else {
                self.overflow[slot.id] = (slot.waiter, slot.subject)
            }
        }
        for slot in old where slot.id != 0 { place(slot) }
        for (id, entry) in oldOverflow { place(Slot(id: id, waiter: entry.waiter, subject: entry.subject)) }
    }
}
