@testable import HemeraNATS
import Testing

/// The request table's slot array: ids that share a slot, growth, and removal by subject. The
/// request paths over a real server (RequestTests, LifecycleTests) use the same structure.
@Suite("Pending requests table")
struct PendingRequestsTests {
    private func isReserved(_ waiter: RequestTable.Waiter?) -> Bool {
        if case .reserved? = waiter { return true }
        return false
    }

    private func isCancelled(_ waiter: RequestTable.Waiter?) -> Bool {
        if case .cancelled? = waiter { return true }
        return false
    }

    @Test("an id whose slot is taken by an older request is still found, updated and removed")
    func collision() {
        var pending = PendingRequests(capacity: 8)
        pending.insert(1, .reserved, subject: "a")
        // 9 maps to the slot of 1 (9 & 7 == 1) while 1 is still pending.
        pending.insert(9, .reserved, subject: "b")
        #expect(pending.count == 2)
        #expect(isReserved(pending[1]))
        #expect(isReserved(pending[9]))
        let updated = pending.update(9, .cancelled)
        #expect(updated)
        #expect(isCancelled(pending[9]))
        #expect(isReserved(pending[1]))
        let removed9 = pending.remove(9)
        #expect(isCancelled(removed9))
        #expect(pending[9] == nil)
        let removed1 = pending.remove(1)
        #expect(isReserved(removed1))
        #expect(pending.isEmpty)
        let removedAgain = pending.remove(1)
        #expect(removedAgain == nil)
        let updatedGone = pending.update(1, .cancelled)
        #expect(!updatedGone)
    }

    @Test("growing keeps every pending request, old slow ones included")
    func growth() {
        var pending = PendingRequests(capacity: 4)
        pending.insert(1, .reserved, subject: "slow")
        for id in UInt64(2)...1000 {
            pending.insert(id, .reserved, subject: "fast")
            if id > 2 {
                let previous = pending.remove(id - 1)
                #expect(isReserved(previous))
            }
        }
        // Request 1 outlived ~1,000 later ones, 999 and 1,000 are still pending.
        #expect(pending.count == 2)
        #expect(isReserved(pending[1]))
        #expect(isReserved(pending[1000]))
        #expect(pending[500] == nil)
        for id in UInt64(1001)...1300 { pending.insert(id, .cancelled, subject: "burst") }
        #expect(pending.count == 302)
        #expect(isReserved(pending[1]))
        #expect(isCancelled(pending[1300]))
    }

    @Test("removing by subject takes exactly the requests sent there")
    func removeBySubject() {
        var pending = PendingRequests(capacity: 4)
        for id in UInt64(1)...20 {
            pending.insert(id, id % 3 == 0 ? .cancelled : .reserved, subject: id % 2 == 0 ? "even" : "odd")
        }
        let removed = pending.removeAll { _, subject in subject == "even" }
        #expect(removed.count == 10)
        #expect(pending.count == 10)
        for id in UInt64(1)...20 {
            #expect((pending[id] != nil) == (id % 2 == 1))
        }
        let rest = pending.removeAll { _, _ in true }
        #expect(rest.count == 10)
        #expect(pending.isEmpty)
    }
}
