import HemeraJSON
import Testing

/// The writer's string escaping, with every character that needs an escape at every offset of
/// strings of every length around the eight-byte words it scans, next to non-ASCII text.
@Suite("String escaping")
struct StringEscapingTests {
    /// JSON for `text` as RFC 8259 writes it with the short escapes (the reference).
    static func reference(_ text: String) -> String {
        var out = Array("\"".utf8)
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0x08: out += Array("\\b".utf8)
            case 0x0C: out += Array("\\f".utf8)
            case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        return String(decoding: out + Array("\"".utf8), as: UTF8.self)
    }

    static func written(_ text: String) throws -> String {
        String(decoding: try HemeraJSONEncoder().encode(text), as: UTF8.self)
    }

    @Test(arguments: ["\"", "\\", "\n", "\u{1}", "\u{1F}", "\t"])
    func oneSpecialCharacterAtEveryOffset(special: String) throws {
        for length in 1...26 {
            for offset in 0..<length {
                var characters = Array(repeating: "a", count: length)
                characters[offset] = special
                let text = characters.joined()
                #expect(try Self.written(text) == Self.reference(text), "length \(length), offset \(offset)")
            }
        }
    }

    @Test func plainTextOfEveryLengthIsCopiedAsItIs() throws {
        for length in 0...40 {
            let ascii = String(repeating: "x", count: length)
            #expect(try Self.written(ascii) == "\"" + ascii + "\"")
            // Bytes >= 0x80 (UTF-8 of é, €, 😀), ~ (0x7E) and DEL (0x7F) and space need no escape.
            let mixed = String(String(repeating: "é€😀~\u{7F} ", count: 8).prefix(length))
            #expect(try Self.written(mixed) == "\"" + mixed + "\"")
        }
    }

    @Test func severalEscapesAndNonASCIIAfterAFirstCleanWord() throws {
        let text = "abcdefgh\u{0}é\"\\/\u{7F}\r\u{8}\u{C}€end"
        #expect(try Self.written(text) == Self.reference(text))
        #expect(Self.reference(text).contains("\\u0000"))
    }
}
