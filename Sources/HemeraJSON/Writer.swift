// A growable byte buffer and the JSON text primitives: integers, shortest round-trip doubles,
// escaped strings, and whole JSONValue trees.

/// Bytes written by the encoder. Raw memory rather than `[UInt8]`: every append is a bounds
/// check and a store, with no uniqueness or exclusivity check on the hot path.
struct _ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int

    /// A buffer of at least `capacity` bytes, on a spare block when one is kept (`_SpareBlocks`).
    init(capacity: Int = 256) {
        let block = _SpareBlocks.allocate(atLeast: capacity)
        self.capacity = block.capacity
        base = block.base
    }

    /// The block goes back to the spare blocks (or is freed, past their limits).
    deinit { _SpareBlocks.release(_SpareBlock(base: base, capacity: capacity)) }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    @inline(never)
    private mutating func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let block = _SpareBlocks.allocate(atLeast: newCapacity)
        block.base.update(from: base, count: count)
        _SpareBlocks.release(_SpareBlock(base: base, capacity: capacity))
        base = block.base
        capacity = block.capacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if let source = bytes.baseAddress {
            (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        }
        count += bytes.count
    }

    /// Appends ASCII text known to need no escaping (number renderings, literals).
    @inline(__always)
    mutating func appendASCII(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func appendPlain(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func removeLast() { count -= 1 }

    /// Forgets what was written, keeping the memory.
    mutating func removeAll() { count = 0 }

    var last: UInt8? { count > 0 ? base[count - 1] : nil }

    func toArray() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { array, initialized in
            // Safe: `array` has room for `count` bytes, and `base` holds `count` written bytes.
            if let start = array.baseAddress { start.update(from: base, count: count) }
            initialized = count
        }
    }

    // MARK: Numbers

    @inline(__always)
    mutating func appendInteger<I: FixedWidthInteger>(_ value: I) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDigits(UInt64(value.magnitude))
        } else {
            appendDigits(UInt64(value))
        }
    }

    mutating func appendDigits(_ value: UInt64) {
        reserve(20)
        var length = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            length += 1
        }
        var cursor = base + count + length
        rest = value
        repeat {
            cursor -= 1
            cursor.pointee = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest != 0
        count += length
    }

    /// Writes a finite double in the shortest form that reads back as the same value, as
    /// Foundation's JSONEncoder does: `0.1`, `1` for `1.0`, `1e+20`.
    mutating func appendDouble(_ value: Double) { appendShortest(value, integralBelow: 1e15) }

    /// Writes a finite float in the shortest form that reads back as the same value.
    mutating func appendFloat(_ value: Float) { appendShortest(value, integralBelow: 1e7) }

    /// Integral values below `limit` as integers (`-0` kept), others as Swift's shortest
    /// round-trip text without a trailing `.0`.
    @inline(__always)
    private mutating func appendShortest<F: BinaryFloatingPoint & CustomStringConvertible>(
        _ value: F,
        integralBelow limit: F
    ) {
        if value == value.rounded(.towardZero) && abs(value) < limit {
            if value == 0 && value.sign == .minus {
                appendASCII("-0")
            } else {
                appendInteger(Int64(value))
            }
            return
        }
        if F.self == Double.self, appendThreeDecimals(Double(value)) { return }
        appendDescription(value.description)
    }

    /// `description` without a trailing `.0` (`1e+20`, not `1e+20.0`; Foundation's rendering).
    @inline(never)
    private mutating func appendDescription(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            var length = utf8.count
            if length >= 2 && utf8[length - 2] == UInt8(ascii: ".") && utf8[length - 1] == UInt8(ascii: "0") {
                length -= 2
            }
            append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[..<length]))
        }
    }

    /// Writes a non-integral `value` below 2^43 with at most three decimals (prices, millisecond
    /// timestamps) from the integer `value * 1000`, without formatting a `String`; returns false,
    /// writing nothing, for any other value.
    ///
    /// This is exactly `description`'s text: the decimal `units / 1000` reads back as `value`
    /// (both are the correctly rounded double of the same decimal), and below 2^43 a double's
    /// spacing is under 0.001, so no other decimal of at most three places, in particular no
    /// shorter one, reads back as `value`; the shortest round-trip digits are these. Swift writes
    /// such values without an exponent (it switches to one below 1e-4 and from 2^53).
    @inline(__always)
    mutating func appendThreeDecimals(_ value: Double) -> Bool {
        let scaled = (value * 1000).rounded()
        guard abs(value) < 0x1p43, scaled / 1000 == value else { return false }
        let units = Int64(scaled)
        if units < 0 { append(UInt8(ascii: "-")) }
        let magnitude = units.magnitude
        appendDigits(magnitude / 1000)
        var fraction = magnitude % 1000  // not 0: integral values are written as integers before this
        var width = 3
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        reserve(4)
        base[count] = UInt8(ascii: ".")
        count += 1
        if width == 3, fraction < 100 {
            base[count] = UInt8(ascii: "0")
            count += 1
        }
        if width >= 2, fraction < 10 {
            base[count] = UInt8(ascii: "0")
            count += 1
        }
        appendDigits(fraction)
        return true
    }

    // MARK: Strings

    @inline(__always)
    mutating func appendString(_ text: String) {
        // Native strings (all but bridged ones) lend their UTF-8 in place: no copy of `text`, and
        // no retain of it as a mutable `withUTF8` would take.
        if text.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            var text = text
            text.withUTF8 { appendEscaped($0) }
        }
    }

    mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        reserve(utf8.count + 2)
        base[count] = UInt8(ascii: "\"")
        count += 1
        appendEscapedContents(utf8)
        append(UInt8(ascii: "\""))
    }

    /// Writes `"key":`, the key escaped.
    @inline(__always)
    mutating func appendKey(_ key: String) {
        if key.utf8.withContiguousStorageIfAvailable({ appendKey($0) }) == nil {
            var key = key
            key.withUTF8 { appendKey($0) }
        }
    }

    mutating func appendKey(_ utf8: UnsafeBufferPointer<UInt8>) {
        reserve(utf8.count + 3)
        base[count] = UInt8(ascii: "\"")
        count += 1
        appendEscapedContents(utf8)
        reserve(2)
        base[count] = UInt8(ascii: "\"")
        base[count + 1] = UInt8(ascii: ":")
        count += 2
    }

    /// The text of `utf8` escaped as inside a JSON string, without the quotes.
    mutating func appendEscapedContents(_ utf8: UnsafeBufferPointer<UInt8>) {
        let end = utf8.count
        guard let source = utf8.baseAddress else { return }
        // Most strings need no escaping: scan and copy them eight bytes at a time (exact tests for
        // "some byte is a quote, a backslash or below 0x20", whatever the byte order), the last
        // eight bytes of a string as one word too (overlapping what was copied), and byte by
        // byte only from a word that holds such a byte, or in strings shorter than eight bytes.
        reserve(end)
        let destination = UnsafeMutableRawPointer(base + count)
        var clean = 0
        if end >= 8 {
            // Safe: every load and store below covers eight bytes at offsets `clean` or `end - 8`,
            // with `clean + 8 <= end`: inside `utf8`, and inside the `end` bytes reserved at
            // `destination`. Unaligned loads and stores read and write the bytes as they are.
            while clean + 8 <= end {
                let word = UnsafeRawPointer(source + clean).loadUnaligned(as: UInt64.self)
                if Self.hasSpecialByte(word) { break }
                destination.storeBytes(of: word, toByteOffset: clean, as: UInt64.self)
                clean += 8
            }
            if clean + 8 > end && clean < end {
                let word = UnsafeRawPointer(source + end - 8).loadUnaligned(as: UInt64.self)
                if !Self.hasSpecialByte(word) {
                    destination.storeBytes(of: word, toByteOffset: end - 8, as: UInt64.self)
                    clean = end
                }
            }
        }
        while clean < end {
            let byte = source[clean]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
            destination.storeBytes(of: byte, toByteOffset: clean, as: UInt8.self)
            clean += 1
        }
        count += clean
        if clean < end { appendEscapedTail(source + clean, end - clean) }
    }

    /// Whether one of the eight bytes of `word` is a quote, a backslash or below 0x20 (exact:
    /// the borrow of a subtraction only runs on from a byte that matched).
    @inline(__always)
    static func hasSpecialByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quotes = word ^ (ones &* 0x22)
        let backslashes = word ^ (ones &* 0x5C)
        let special =
            ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes) | ((word &- ones &* 0x20) & ~word)
        return special & 0x8080_8080_8080_8080 != 0
    }

    /// Appends a copy of bytes this buffer already holds (`range` within its first `count`).
    mutating func appendCopy(of range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "range outside the written bytes")
        reserve(range.count)  // may move `base`: the source is taken after it
        (base + count).update(from: base + range.lowerBound, count: range.count)
        count += range.count
    }

    @inline(never)
    private mutating func appendEscapedTail(_ source: UnsafePointer<UInt8>, _ length: Int) {
        // Worst case every byte becomes \u00XX.
        reserve(length * 6)
        let hex: StaticString = "0123456789abcdef"
        for index in 0..<length {
            let byte = source[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                base[count] = byte
                count += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): appendASCII("\\\"")
            case UInt8(ascii: "\\"): appendASCII("\\\\")
            case 0x0A: appendASCII("\\n")
            case 0x0D: appendASCII("\\r")
            case 0x09: appendASCII("\\t")
            case 0x08: appendASCII("\\b")
            case 0x0C: appendASCII("\\f")
            default:
                appendASCII("\\u00")
                base[count] = hex.utf8Start[Int(byte >> 4)]
                base[count + 1] = hex.utf8Start[Int(byte & 0xF)]
                count += 2
            }
        }
    }
}

/// How a JSONValue tree is written.
struct _TreeWriteOptions {
    var sortedKeys = false
    var pretty = false
    var nonConformingFloat: HemeraJSONEncoder.NonConformingFloatEncodingStrategy = .throw
    var maxDepth = 512
}

extension _ByteBuffer {
    /// Writes `value` and everything below it. Recursion is bounded by `options.maxDepth`.
    mutating func appendTree(
        _ value: JSONValue, options: _TreeWriteOptions, depth: Int, path: [any CodingKey]
    ) throws {
        switch value {
        case .null: appendASCII("null")
        case .bool(let flag): if flag { appendASCII("true") } else { appendASCII("false") }
        case .integer(let number): appendInteger(number)
        case .double(let number):
            if number.isFinite {
                appendDouble(number)
            } else {
                guard case .convertToString(let positive, let negative, let nan) = options.nonConformingFloat else {
                    throw _Errors.encoding(
                        number,
                        "cannot encode \(number) in JSON; set nonConformingFloatEncodingStrategy to .convertToString",
                        path: path
                    )
                }
                appendString(number.isNaN ? nan : number > 0 ? positive : negative)
            }
        case .string(let text): appendString(text)
        case .array(let elements):
            guard depth < options.maxDepth else {
                throw _Errors.encoding(value, "nesting deeper than \(options.maxDepth) levels", path: path)
            }
            append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { append(UInt8(ascii: ",")) }
                if options.pretty { newline(depth + 1) }
                try appendTree(element, options: options, depth: depth + 1, path: path)
            }
            if options.pretty && !elements.isEmpty { newline(depth) }
            append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth < options.maxDepth else {
                throw _Errors.encoding(value, "nesting deeper than \(options.maxDepth) levels", path: path)
            }
            append(UInt8(ascii: "{"))
            var first = true
            func member(_ key: String, _ element: JSONValue) throws {
                if !first { append(UInt8(ascii: ",")) }
                first = false
                if options.pretty { newline(depth + 1) }
                appendString(key)
                if options.pretty { appendASCII(" : ") } else { append(UInt8(ascii: ":")) }
                try appendTree(element, options: options, depth: depth + 1, path: path)
            }
            if options.sortedKeys {
                for key in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                    try member(key, members[key]!)
                }
            } else {
                for (key, element) in members { try member(key, element) }
            }
            if options.pretty && !members.isEmpty { newline(depth) }
            append(UInt8(ascii: "}"))
        }
    }

    private mutating func newline(_ depth: Int) {
        append(UInt8(ascii: "\n"))
        for _ in 0..<depth { appendASCII("  ") }
    }
}
