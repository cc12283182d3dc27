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
    ///
    /// The whole string is put together on the stack and written with one call: the writer's
    /// appends are calls into another module, four of them per id before (issue 12).
    static func writeNext(to writer: inout JSONWriter) {
        var value = counter.add(1, ordering: .relaxed).newValue
        // `"`, the prefix, at most 13 base-36 digits for a UInt64, `"`: built from the end.
        let capacity = 64
        prefixBytes.withUnsafeBufferPointer { prefix in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { text in
                var start = capacity - 1
                text[start] = UInt8(ascii: "\"")
                // Base 36 (0-9, then A-Z), least significant digit last.
                repeat {
                    start -= 1
                    let digit = UInt8(truncatingIfNeeded: value % 36)
                    text[start] = digit < 10 ? digit &+ 48 : digit &+ 55
                    value /= 36
                } while value != 0
                start -= prefix.count
                // Safe: `prefix.count` (12) plus the digits and both quotes fit in `capacity`.
                UnsafeMutableRawPointer(text.baseAddress! + start).copyMemory(
                    from: prefix.baseAddress!,
                    byteCount: prefix.count
                )
                start -= 1
                text[start] = UInt8(ascii: "\"")
                writer.raw(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: text[start..<capacity])))
            }
        }
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
