extension NATSError.Code {
    /// A server URL that cannot be a NATS server's address (made by this library before any connect
    /// attempt, not by cnats): an unknown scheme, a missing host, a port that is not a number from 1
    /// to 65535, a path, or white space.
    public static let invalidURL = NATSError.Code(rawValue: -1001)
}

/// Checks server URLs before cnats sees them: cnats reports most malformed URLs as "No server
/// available for connection", as if a well-formed server were down.
package enum NATSServerURL {
    /// The schemes cnats 3.4.1 connects with (`nats://`, `tls://`; no scheme means `nats://`).
    static let schemes: Set<String> = ["nats", "tls"]

    /// Throws ``NATSError/Code/invalidURL`` for the first malformed URL of `servers`.
    static func validate(_ servers: [String]) throws(NATSError) {
        if servers.isEmpty { throw NATSError(code: .invalidURL, message: "no server URL given") }
        for url in servers {
            if let reason = problem(with: url) {
                throw NATSError(code: .invalidURL, message: "invalid NATS server URL \"\(redacted(url))\": \(reason)")
            }
        }
    }

    /// Why `url` is not a server address, or `nil` when it is one.
    package static func problem(with url: String) -> String? {
        if url.isEmpty { return "it is empty" }
        if url.contains(where: \.isWhitespace) { return "it contains white space" }
        var rest = Substring(url)
        if let range = rest.firstRange(of: "://") {
            let scheme = rest[..<range.lowerBound].lowercased()
            guard schemes.contains(scheme) else {
                return "the scheme must be nats:// or tls:// (found \(scheme.isEmpty ? "none" : "\(scheme)://"))"
            }
            rest = rest[range.upperBound...]
        } else if rest.contains("/") {
            return "expected nats://host:port"
        }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("/") || rest.contains("?") || rest.contains("#") {
            return "a server URL has no path or query"
        }
        var host = rest
        var port: Substring?
        if rest.hasPrefix("[") {  // [IPv6]:port
            guard let close = rest.firstIndex(of: "]") else { return "an IPv6 address misses its ']'" }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return "unexpected text after the IPv6 address" }
                port = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            port = rest[rest.index(after: colon)...]
        }
        if host.isEmpty { return "the host is missing" }
        if let port {
            guard let number = Int(port), (1...65535).contains(number) else {
                return "the port must be a number from 1 to 65535 (found \"\(port)\")"
            }
        }
        return nil
    }

    /// `url` with the password or token of its user information replaced by `***`: the one
    /// redaction of ``NATSRedaction``, for a URL with or without its scheme.
    package static func redacted(_ url: String) -> String {
        if url.contains("://") { return NATSRedaction.redact(url) }
        return String(NATSRedaction.redact("nats://" + url).dropFirst("nats://".count))
    }
}
