import HemeraJSON
import Testing

/// The scanner reads strings eight bytes at a time and, in the word that holds a quote, backslash
/// or control character, stops exactly on the first of them. These tests put that byte at every
/// offset of a word, after plain runs of every length (ASCII and not), so a position or mask off
/// by one shows as a wrong value, a wrong error offset or a missed invalid byte.
@Suite struct StringScanning {
    /// Plain runs of `count` bytes: ASCII only, and ASCII with two-byte characters mixed in.
    static func runs(_ count: Int) -> [[UInt8]] {
        let ascii = (0..<count).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        var mixed: [UInt8] = []
        while mixed.count + 2 <= count { mixed += mixed.count % 3 == 0 ? [0xC3, 0xA9] : [UInt8(ascii: "x")] }
        while mixed.count < count { mixed.append(UInt8(ascii: "z")) }
        return [ascii, mixed]
    }

    func syntaxError(_ input: [UInt8]) -> JSONSyntaxError? {
        do {
            _ = try HemeraJSONDecoder().decode(String.self, from: input)
            return nil
        } catch DecodingError.dataCorrupted(let context) {
            return context.underlyingError as? JSONSyntaxError
        } catch {
            return nil
        }
    }

    @Test func closingQuoteAtEveryOffset() throws {
        for count in 0...27 {
            for run in Self.runs(count) {
                let text = try HemeraJSONDecoder().decode(String.self, from: [0x22] + run + [0x22])
                #expect(Array(text.utf8) == run, "run of \(count)")
                // The same string as an object key and a value, followed by more members.
                let object = [0x7B, 0x22] + run + Array(#"":"#.utf8) + [0x22] + run + Array(#"","k":1}"#.utf8)
                let value = try JSONValue(parsing: object)
                #expect(value[String(decoding: run, as: UTF8.self)] == .string(String(decoding: run, as: UTF8.self)))
            }
        }
    }

    @Test func escapeAtEveryOffset() throws {
        for count in 0...27 {
            for run in Self.runs(count) {
                let input = [0x22] + run + Array(#"\n"#.utf8) + run + [0x22]
                let text = try HemeraJSONDecoder().decode(String.self, from: input)
                #expect(Array(text.utf8) == run + [0x0A] + run, "run of \(count)")
            }
        }
    }

    @Test func controlCharacterIsReportedWhereItIs() {
        for count in 0...27 {
            for run in Self.runs(count) {
                let error = syntaxError([0x22] + run + [0x01] + Array("tail\"".utf8))
                #expect(error?.position == 1 + count, "run of \(count): \(String(describing: error))")
                #expect(error?.reason.contains("control character") == true)
            }
        }
    }

    @Test func invalidByteJustBeforeTheQuoteIsSeen() {
        // A stray continuation byte (0x80) or a lone lead byte (0xC3) as the last plain byte before
        // the quote, at every offset: its top bit must reach the UTF-8 check.
        for count in 0...26 {
            for bad: UInt8 in [0x80, 0xC3, 0xFF] {
                let run = (0..<count).map { _ in UInt8(ascii: "q") }
                #expect(syntaxError([0x22] + run + [bad, 0x22]) != nil, "\(bad) after \(count)")
            }
        }
    }
}
