/// Credentials kept out of logs, errors and command-line output.
public enum NATSRedaction {
    /// `text` with the credentials of every URL in it replaced: `nats://alice:s3cret@host:4222`
    /// becomes `nats://alice:***@host:4222`, and a token URL `nats://t0ken@host` becomes
    /// `nats://***@host` (the user part of a URL without a password is the token).
    ///
    /// Works on single URLs, comma-separated server lists and messages that quote URLs.
    ///
    /// ```swift
    /// NATSRedaction.redact("cannot connect to nats://alice:s3cret@127.0.0.1:4222")
    /// // "cannot connect to nats://alice:***@127.0.0.1:4222"
    /// ```
    public static func redact(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "@")) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            // A scheme separator: copy it, then look at the authority that follows.
            if index + 2 < bytes.count, bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: "/"),
                bytes[index + 2] == UInt8(ascii: "/")
            {
                out.append(contentsOf: bytes[index..<(index + 3)])
                index += 3
                var end = index
                while end < bytes.count, !isAuthorityEnd(bytes[end]) { end += 1 }
                // The last `@` of the authority ends the user information (a password may hold `@`).
                if let at = bytes[index..<end].lastIndex(of: UInt8(ascii: "@")) {
                    let userInfo = bytes[index..<at]
                    if let colon = userInfo.firstIndex(of: UInt8(ascii: ":")) {
                        out.append(contentsOf: bytes[index..<colon])
                        out.append(contentsOf: ":***".utf8)
                    } else {
                        out.append(contentsOf: "***".utf8)
                    }
                    index = at
                }
                continue
            }
            out.append(bytes[index])
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isAuthorityEnd(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: ","), UInt8(ascii: " "),
            UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "\n"), UInt8(ascii: "\t"):
            return true
        default:
            return false
        }
    }
}
