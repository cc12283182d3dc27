import HemeraJSON
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

private let base36: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

/// A random base-36 token of `length` characters.
func fastRandomToken(length: Int = 12) -> String {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: length)
    for index in 0..<length { bytes[index] = base36[Int(generator.next(upperBound: UInt8(36)))] }
    return String(decoding: bytes, as: UTF8.self)
}

/// Unique ids without UUIDs: a random per-process prefix plus a counter, in base 36.
enum IDGenerator {
    private static let prefix = fastRandomToken(length: 12)
    private static let counter = Atomic<UInt64>(0)

    private static let prefixBytes = Array(prefix.utf8)

    static func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return prefix + String(value, radix: 36, uppercase: true)
    }

    /// Writes the next id as a JSON string (the same text as ``next()``, with no `String` made).
    static func writeNext(to writer: inout JSONWriter) {
        var value = counter.add(1, ordering: .relaxed).newValue
        writer.raw(UInt8(ascii: "\""))
        prefixBytes.withUnsafeBytes { writer.raw($0) }
        // Base 36, most significant digit first: at most 13 digits for a UInt64.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digits in
            var start = 16
            repeat {
                start -= 1
                digits[start] = base36[Int(value % 36)]
                value /= 36
            } while value != 0
            writer.raw(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[start..<16])))
        }
        writer.raw(UInt8(ascii: "\""))
    }
}

/// Milliseconds since the Unix epoch (no Foundation).
///
/// Microsecond resolution, computed as `microseconds / 1000` so that the value is the double
/// nearest a three-decimal number: the writer then prints it without the general formatter.
func epochMilliseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec / 1000)) / 1000
}
