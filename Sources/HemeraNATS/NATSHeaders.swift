internal import CNats
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// NATS message headers: case-sensitive names, each with one or more values.
///
/// ```swift
/// var headers: NATSHeaders = ["trace-id": "abc"]
/// headers.append("x", for: "tags")
/// headers.append("y", for: "tags")
/// headers.values(for: "tags")   // ["x", "y"]
/// ```
public struct NATSHeaders: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence,
    CustomStringConvertible
{
    private var storage: [String: [String]] = [:]

    /// Empty headers.
    public init() {}

    /// Headers with one value per name.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self.append(value, for: name) }
    }

    /// The first value for `name` (case-sensitive); setting replaces all values, `nil` removes.
    public subscript(name: String) -> String? {
        get { self.storage[name]?.first }
        set {
            if let newValue { self.storage[name] = [newValue] } else { self.storage[name] = nil }
        }
    }

    /// All values for `name`, in the order they were added (empty when absent).
    public func values(for name: String) -> [String] { self.storage[name] ?? [] }

    /// Adds a value for `name`, keeping existing values.
    public mutating func append(_ value: String, for name: String) {
        self.storage[name, default: []].append(value)
    }

    /// Removes all values for `name`.
    public mutating func remove(_ name: String) { self.storage[name] = nil }

    /// The header names, sorted.
    public var names: [String] { self.storage.keys.sorted() }

    /// Whether there are no headers.
    public var isEmpty: Bool { self.storage.isEmpty }

    /// Each (name, value) pair, names sorted, values in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        var pairs: [(name: String, value: String)] = []
        for name in self.names {
            for value in self.storage[name]! { pairs.append((name, value)) }
        }
        return pairs.makeIterator()
    }

    /// `name: value` lines.
    public var description: String {
        self.map { "\($0.name): \($0.value)" }.joined(separator: ", ")
    }

    /// Copies the headers of a cnats message (which this does not take ownership of).
    init?(copyingFrom message: OpaquePointer) {
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var count: Int32 = 0
        guard natsMsgHeader_Keys(message, &keys, &count) == NATS_OK, let keys else { return nil }
        defer { free(keys) }
        var headers = NATSHeaders()
        for index in 0..<Int(count) {
            guard let key = keys[index] else { continue }
            var values: UnsafeMutablePointer<UnsafePointer<CChar>?>?
            var valueCount: Int32 = 0
            guard natsMsgHeader_Values(message, key, &values, &valueCount) == NATS_OK, let values else { continue }
            let name = String(cString: key)
            for valueIndex in 0..<Int(valueCount) {
                if let value = values[valueIndex] { headers.append(String(cString: value), for: name) }
            }
            free(values)
        }
        self = headers
    }

    /// Adds the headers to a cnats message.
    func apply(to message: OpaquePointer) throws(NATSError) {
        for (name, values) in self.storage {
            for value in values {
                try check(natsMsgHeader_Add(message, name, value))
            }
        }
    }
}
