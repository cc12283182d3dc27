/// A W3C Trace Context `traceparent` value: `00-<trace-id>-<parent-id>-<flags>`
/// (https://www.w3.org/TR/trace-context/#traceparent-header).
///
/// ```swift
/// let parent = TraceParent(header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
/// parent?.traceId   // "4bf92f3577b34da6a3ce929d0e0e4736"
/// ```
public struct TraceParent: Sendable, Equatable, CustomStringConvertible {
    /// 32 lowercase hexadecimal digits, not all zero.
    public var traceId: String
    /// The caller's span: 16 lowercase hexadecimal digits, not all zero.
    public var parentId: String
    /// The trace flags byte (bit 0: sampled).
    public var flags: UInt8

    /// Creates a value from its parts, which must already be valid.
    public init(traceId: String, parentId: String, flags: UInt8) {
        self.traceId = traceId
        self.parentId = parentId
        self.flags = flags
    }

    /// Parses a header value; `nil` when it is not a valid `traceparent` (the specification says
    /// to start a new trace then).
    ///
    /// Version `00` must be exactly 55 characters. A higher version is read by its first four
    /// fields, as the specification asks of forward-compatible parsers; version `ff` is invalid.
    public init?(header: some StringProtocol) {
        let bytes = Array(header.utf8)
        guard bytes.count >= 55 else { return nil }
        guard Self.isHex(bytes[0..<2]), let version = UInt8(String(decoding: bytes[0..<2], as: UTF8.self), radix: 16),
            version != 0xff
        else { return nil }
        if version == 0 && bytes.count != 55 { return nil }
        if version != 0 && bytes.count > 55 && bytes[55] != UInt8(ascii: "-") { return nil }
        guard bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else {
            return nil
        }
        let trace = bytes[3..<35]
        let parent = bytes[36..<52]
        let flagBytes = bytes[53..<55]
        guard Self.isHex(trace), Self.isHex(parent), Self.isHex(flagBytes) else { return nil }
        guard trace.contains(where: { $0 != UInt8(ascii: "0") }), parent.contains(where: { $0 != UInt8(ascii: "0") })
        else { return nil }
        traceId = String(decoding: trace, as: UTF8.self)
        parentId = String(decoding: parent, as: UTF8.self)
        flags = UInt8(String(decoding: flagBytes, as: UTF8.self), radix: 16) ?? 0
    }

    /// The header value, version `00`.
    public var description: String {
        let hexFlags = String(flags, radix: 16)
        return "00-\(traceId)-\(parentId)-\(hexFlags.count == 1 ? "0" + hexFlags : hexFlags)"
    }

    /// A new random trace id (32 hexadecimal digits).
    public static func randomTraceId() -> String { randomHex(bytes: 16) }

    /// A new random span id (16 hexadecimal digits).
    public static func randomSpanId() -> String { randomHex(bytes: 8) }

    private static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        while true {
            var text = ""
            text.reserveCapacity(count * 2)
            var allZero = true
            for _ in 0..<count {
                let byte = UInt8.random(in: 0...255, using: &generator)
                if byte != 0 { allZero = false }
                text.append(hexDigits[Int(byte >> 4)])
                text.append(hexDigits[Int(byte & 0x0f)])
            }
            if !allZero { return text }
        }
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")

    /// Lowercase hexadecimal only, as the specification requires.
    private static func isHex(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy {
            ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
        }
    }
}
