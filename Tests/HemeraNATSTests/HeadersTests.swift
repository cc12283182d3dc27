import HemeraNATS
import Testing

@Suite("Headers value type")
struct HeadersTests {
    @Test func multiValueCaseSensitive() {
        var headers: NATSHeaders = ["A": "1"]
        headers.append("2", for: "A")
        headers["a"] = "lower"
        #expect(headers.values(for: "A") == ["1", "2"])
        #expect(headers["A"] == "1")
        #expect(headers["a"] == "lower")
        #expect(headers.names == ["A", "a"])
        #expect(Array(headers).map { "\($0.name)=\($0.value)" } == ["A=1", "A=2", "a=lower"])
        headers["A"] = "only"
        #expect(headers.values(for: "A") == ["only"])
        headers["A"] = nil
        headers.remove("a")
        #expect(headers.isEmpty)
        #expect(headers == NATSHeaders())
    }

    @Test func equalityIgnoresNameOrderNotValueOrder() {
        var first = NATSHeaders()
        first.append("1", for: "A")
        first.append("x", for: "B")
        first.append("2", for: "A")
        var second = NATSHeaders()
        second.append("x", for: "B")
        second.append("1", for: "A")
        second.append("2", for: "A")
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(Set([first, second]).count == 1)
        var swapped = NATSHeaders()
        swapped.append("2", for: "A")
        swapped.append("1", for: "A")
        swapped.append("x", for: "B")
        #expect(first != swapped)
        #expect(first != ["A": "1", "B": "x"])
        #expect(first.description == "A: 1, A: 2, B: x")
    }

    @Test func errorCodesMatch() {
        let error = NATSError(code: .timeout, message: "x")
        switch error.code {
        case .timeout: break
        default: Issue.record("a code matches its static member")
        }
        #expect(NATSError.Code.noResponders != .timeout)
        #expect(NATSError.Code.timeout.description.lowercased().contains("timeout"))
    }
}
