public import Hemera

extension HemeraError.Name {
    /// The demo services' "no such record" error.
    public static let notFound: HemeraError.Name = "NotFound"
    /// An integer result that does not fit in 64 bits.
    public static let range: HemeraError.Name = "RangeError"
}

/// A record that does not exist: `NotFound` on the wire with code `E_NOT_FOUND` and
/// `statusCode` 404, so callers match it by name or code.
public struct NotFound: HemeraErrorConvertible, Sendable {
    /// The wire code of every not-found error.
    public static let code = "E_NOT_FOUND"

    /// What was looked up, e.g. `user`.
    public var kind: String
    /// The id that was not found.
    public var id: Int

    public init(kind: String, id: Int) {
        self.kind = kind
        self.id = id
    }

    public var hemeraError: HemeraError {
        HemeraError(
            name: .notFound,
            message: "No \(kind) with id \(id)",
            code: .string(Self.code),
            extra: ["statusCode": 404, "kind": .string(kind), "id": .integer(Int64(id))]
        )
    }
}

/// An arithmetic result that overflows `Int`.
struct Overflow: HemeraErrorConvertible {
    var operation: String

    var hemeraError: HemeraError {
        HemeraError(name: .range, message: "The result of \(operation) does not fit in 64 bits", code: "E_OVERFLOW")
    }
}
