import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// A small HTTP/1.1 client for a gateway, over AsyncHTTPClient: used by the tour, the tests and
/// the benchmark to make real HTTP calls.
public final class GatewayClient: Sendable {
    /// One answer.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// The header fields, names lowercased.
        public var headers: [(name: String, value: String)]
        /// The body.
        public var body: [UInt8]

        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The first value of the header `name` (case-insensitive).
        public func header(_ name: String) -> String? {
            let lower = name.lowercased()
            return headers.first { $0.name == lower }?.value
        }
    }

    /// The gateway's base URL, e.g. `http://127.0.0.1:8080`.
    public let baseURL: String
    private let client: HTTPClient

    /// A client of the gateway at `baseURL`, with its own connection pool (up to
    /// `maxConnections` connections).
    public init(baseURL: String, maxConnections: Int = 8) {
        self.baseURL = baseURL
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections
        )
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Sends one request.
    ///
    /// - Parameters:
    ///   - method: `GET`, `POST`, `DELETE`, …
    ///   - path: The path and query, starting with `/`.
    ///   - body: The body's bytes, sent with `contentType`.
    ///   - contentType: The body's media type.
    ///   - headers: More header fields.
    ///   - chunked: Send the body with chunked transfer encoding, without a `Content-Length`.
    /// - Throws: When the connection fails or no answer comes within 30 s.
    public func send(
        _ method: String,
        _ path: String,
        body: [UInt8]? = nil,
        contentType: String? = "application/json",
        headers: [(String, String)] = [],
        chunked: Bool = false
    ) async throws -> Response {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            if let contentType { request.headers.replaceOrAdd(name: "content-type", value: contentType) }
            if chunked {
                // In pieces of 1 KiB, length unknown: chunked transfer encoding.
                let pieces = stride(from: 0, to: body.count, by: 1024).map {
                    ByteBuffer(bytes: body[$0..<min($0 + 1024, body.count)])
                }
                let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
                for piece in pieces { continuation.yield(piece) }
                continuation.finish()
                request.body = .stream(stream, length: .unknown)
            } else {
                request.body = .bytes(ByteBuffer(bytes: body))
            }
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 16 << 20)
        return Response(
            status: Int(response.status.code),
            headers: response.headers.map { (name: $0.name.lowercased(), value: $0.value) },
            body: Array(collected.readableBytesView)
        )
    }

    /// Sends one request whose body is `text`.
    public func send(
        _ method: String,
        _ path: String,
        text: String,
        contentType: String? = "application/json",
        headers: [(String, String)] = []
    ) async throws -> Response {
        try await send(method, path, body: Array(text.utf8), contentType: contentType, headers: headers)
    }

    /// Closes the connections; call once, before the client goes away.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}
