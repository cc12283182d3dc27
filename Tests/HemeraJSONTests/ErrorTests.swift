import Foundation
import HemeraJSON
import Testing

struct Add: Codable, Equatable { var a: Int; var b: Int }

/// The decoding error's message, or a failure.
func message<T: Decodable>(
    _ type: T.Type, _ json: String, _ decoder: HemeraJSONDecoder = HemeraJSONDecoder(),
    sourceLocation: SourceLocation = #_sourceLocation
) -> JSONDecodingIssue? {
    do {
        _ = try decoder.decode(type, from: bytes(json))
        Issue.record("decoded \(json) without an error", sourceLocation: sourceLocation)
    } catch let error as DecodingError {
        return JSONDecodingIssue(error)
    } catch {
        Issue.record("not a DecodingError: \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct ErrorMessages {
    @Test func typeMismatch() {
        let issue = message(Add.self, #"{"a":"Hello","b":2}"#)
        #expect(issue?.message == #"a: expected a number, found the string "Hello""#)
        #expect(issue?.path == ["a"])
        #expect(issue?.kind == .typeMismatch)
        #expect(issue?.joiType == "number.base")
    }

    @Test func exactDebugDescription() throws {
        do {
            _ = try HemeraJSONDecoder().decode(Add.self, from: bytes(#"{"a":"Hello","b":2}"#))
            Issue.record("decoded a string into an Int")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(context.debugDescription == #"a: expected a number, found the string "Hello""#)
            #expect(context.codingPath.map(\.stringValue) == ["a"])
        }
    }

    @Test func missingKey() {
        let issue = message(Add.self, #"{"a":1}"#)
        #expect(issue?.message == "b: is required")
        #expect(issue?.path == ["b"])
        #expect(issue?.kind == .required)
        #expect(issue?.joiType == "any.required")
    }

    @Test func nestedPaths() {
        #expect(message(AddRequest.self, #"{"topic":"t","cmd":"c","a":1,"b":2,"meta":{"id":"x","retries":0,"tags":["x",3]}}"#)?
            .message == "meta.tags.1: expected a string, found the number 3")
        #expect(message(AddRequest.self, #"{"topic":"t","cmd":"c","a":1,"b":2,"meta":{"id":"x","tags":[]}}"#)?
            .message == "meta.retries: is required")
        #expect(message(AddRequest.self, #"{"topic":"t","cmd":"c","a":1,"b":2,"meta":[]}"#)?
            .message == "meta: expected an object, found an array")
        #expect(message(AddRequest.self, #"{"topic":"t","cmd":"c","a":1,"b":2,"meta":[]}"#)?.joiType == "object.base")
        #expect(message(Meta.self, #"{"id":"x","retries":0,"tags":{}}"#)?.joiType == "array.base")
        let issue = message([Meta].self, #"[{"id":"x","retries":0,"tags":[]},{"id":true}]"#)
        #expect(issue?.message == "1.id: expected a string, found true")
        #expect(issue?.path == ["1", "id"])
    }

    @Test func scalarArrays() {
        #expect(message([Int].self, #"[1,"x"]"#)?.message == #"1: expected a number, found the string "x""#)
        #expect(message([Double].self, #"{"a":1}"#)?.message == "value: expected an array, found an object")
        #expect(message([Double].self, #"{"a":1}"#)?.joiType == "array.base")
        #expect(message([String].self, "null")?.message == "value: expected an array, found null")
        #expect(message([[Int]].self, "[[1],[2.5]]")?.message == "1.0: expected an integer, found the number 2.5")
    }

    @Test func dictionaries() {
        #expect(message([String: [String: Int]].self, #"{"a":{"x":1,"y":"2"}}"#)?.message
            == #"a.y: expected a number, found the string "2""#)
        #expect(message([String: Int].self, #"[1]"#)?.message == "value: expected an object, found an array")
        #expect(message([String: Int].self, #"[1]"#)?.joiType == "object.base")
        #expect(message([Int: Int].self, #"{"one":1}"#) != nil)
    }

    @Test func nullWhereAValueIsRequired() {
        let issue = message(Add.self, #"{"a":null,"b":2}"#)
        #expect(issue?.message == "a: expected a number, found null")
        #expect(issue?.kind == .typeMismatch)
    }

    @Test func rootLevel() {
        #expect(message(Add.self, "[1]")?.message == "value: expected an object, found an array")
        #expect(message(Int.self, "1.5")?.message == "value: expected an integer, found the number 1.5")
        #expect(message(Bool.self, "0")?.message == "value: expected a boolean, found the number 0")
    }

    @Test func integerRanges() {
        #expect(message(Numbers.self, #"{"i":0,"i8":300}"#)?.message
            == "i8: expected an integer from -128 to 127, found the number 300")
        #expect(message([UInt].self, "[-1]")?.message == "0: expected an integer from 0 to 18446744073709551615, found the number -1")
        #expect(message([Int32].self, "[1e10]")?.kind == .invalidValue)
        #expect(message([Float].self, "[1e39]")?.message == "0: expected a number that fits in a Float, found the number 1e+39")
    }

    @Test func longStringsAreCut() {
        let issue = message(Add.self, "{\"a\":\"\(String(repeating: "z", count: 100))\",\"b\":1}")
        #expect(issue?.message == "a: expected a number, found the string \"\(String(repeating: "z", count: 40))…\"")
    }

    @Test func enumsAndDates() {
        #expect(message([Color].self, #"["blue"]"#)?.kind == .invalidValue)
        var decoder = HemeraJSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(message(Date.self, #""yesterday""#, decoder)?.message
            == #"value: expected an ISO 8601 date, found the string "yesterday""#)
        #expect(message(Data.self, #""%%%""#)?.message == #"value: expected Base64 data, found the string "%%%""#)
        #expect(message(URL.self, #""""#)?.message == #"value: expected a URL, found the string """#)
    }

    @Test func endOfArray() {
        struct Pair: Decodable {
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                _ = try container.decode(Int.self)
                _ = try container.decode(Int.self)
            }
        }
        #expect(message(Pair.self, "[1]")?.message == "1: is required")
    }
}
