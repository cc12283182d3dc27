@testable import Hemera
import Testing

/// The service's table of reply subjects in flight (what a close whose grace period ran out
/// answers): slots handed out and given back, duplicates answered once, stale slots ignored.
@Suite struct RunningRepliesTests {
    @Test func slotsAreReusedAndStaleOnesIgnored() {
        var replies = Hemera.RunningReplies()
        let a = replies.insert("_INBOX.a")
        let b = replies.insert("_INBOX.b")
        let again = replies.insert("_INBOX.a")  // a peer may reuse a reply subject
        #expect(a.index != b.index && a.index != again.index)

        replies.remove(b)
        replies.remove(b)  // twice: nothing more happens
        let c = replies.insert("_INBOX.c")
        #expect(c.index == b.index)  // the freed slot, not a new one

        #expect(replies.takeAll().sorted() == ["_INBOX.a", "_INBOX.c"])
        #expect(replies.takeAll().isEmpty)

        // A slot from before `takeAll` is stale: giving it back must not free the new request's.
        let d = replies.insert("_INBOX.d")
        #expect(d.index == a.index)
        replies.remove(a)
        #expect(replies.takeAll() == ["_INBOX.d"])
        replies.remove(.none)
    }
}
