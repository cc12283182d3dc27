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

    static func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return prefix + String(value, radix: 36, uppercase: true)
    }
}

/// Milliseconds since the Unix epoch (no Foundation).
func epochMilliseconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) * 1000 + Double(spec.tv_nsec / 1000) / 1000
}
