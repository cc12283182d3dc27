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
    /// Every (name, value) pair in the order added. A received message has one or two headers:
    /// a flat list is one allocation where a `[String: [String]]` took two plus hashing, and
    /// its look-ups are as fast at that size. Equality and hashing ignore the order of names
    /// (values of one name keep theirs), as a dictionary of names to value lists would.
    /// Internal, not private: the raw header block reader and writer (RawHeaders.swift) use it.
    var fields: [(name: String, value: String)] = []

    /// Empty headers.
    public init() {}

    /// Headers with one value per name.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { self.append(value, for: name) }
    }

    /// The first value for `name` (case-sensitive); setting replaces all values, `nil` removes.
    public subscript(name: String) -> String? {
        get {
            for field in self.fields where field.name == name { return field.value }
            return nil
        }
        set {
            self.remove(name)
            if let newValue { self.fields.append((name, newValue)) }
        }
    }

    /// All values for `name`, in the order they were added (empty when absent).
    public func values(for name: String) -> [String] {
        var values: [String] = []
        for field in self.fields where field.name == name { values.append(field.value) }
        return values
    }

    /// Adds a value for `name`, keeping existing values.
    public mutating func append(_ value: String, for name: String) {
        self.fields.append((name, value))
    }

    /// Removes all values for `name`.
    public mutating func remove(_ name: String) { self.fields.removeAll { $0.name == name } }

    /// The header names, sorted.
    public var names: [String] { Set(self.fields.lazy.map(\.name)).sorted() }

    /// Whether there are no headers.
    public var isEmpty: Bool { self.fields.isEmpty }

    /// Each (name, value) pair, names sorted, values in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        var pairs: [(name: String, value: String)] = []
        pairs.reserveCapacity(self.fields.count)
        for name in self.names {
            for field in self.fields where field.name == name { pairs.append(field) }
        }
        return pairs.makeIterator()
    }

    /// `name: value` lines.
    public var description: String {
        self.map { "\($0.name): \($0.value)" }.joined(separator: ", ")
    }

    /// Equal when every name has the same values in the same order (the order of names does not
    /// matter).
    public static func == (lhs: NATSHeaders, rhs: NATSHeaders) -> Bool {
        guard lhs.fields.count == rhs.fields.count else { return false }
        return lhs.elementsEqual(rhs) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Hashes the names in sorted order with their values in order, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.fields.count)
        for field in self {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }

    /// Copies the headers of a cnats message (which this does not take ownership of) through cnats'
    /// header functions: the fall back of ``read(from:stats:)``.
    init?(copyingFrom message: OpaquePointer) {
        var keys: UnsafeMutablePointer<UnsafePointer<CChar>?>?
        var count: Int32 = 0
        guard natsMsgHeader_Keys(message, &keys, &count) == NATS_OK, let keys else { return nil }
        // Safe: cnats returns an array of `count` key pointers, allocated for the caller (freed
        // here); the keys and values point into the message, which the caller keeps alive.
        defer { free(keys) }
        var headers = NATSHeaders()
        headers.fields.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            guard let key = keys[index] else { continue }
            var values: UnsafeMutablePointer<UnsafePointer<CChar>?>?
            var valueCount: Int32 = 0
            guard natsMsgHeader_Values(message, key, &values, &valueCount) == NATS_OK, let values else { continue }
            let name = String(cString: key)
            for valueIndex in 0..<Int(valueCount) {
                if let value = values[valueIndex] { headers.fields.append((name, String(cString: value))) }
            }
            free(values)
        }
        self = headers
    }

    /// Adds the headers to a cnats message, in the order they were added: the fall back of
    /// `NATSConnection.publishRawHeaders`.
    func apply(to message: OpaquePointer) throws(NATSError) {
        for field in self.fields {
            // `withCString` hands short names and values to C from the stack; the implicit
            // String-to-pointer conversion allocated a C copy of each small string.
            let status = field.name.withCString { name in
                field.value.withCString { value in natsMsgHeader_Add(message, name, value) }
            }
            try check(status)
        }
    }
}
