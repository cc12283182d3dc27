// A growable byte buffer and the JSON text primitives: integers, shortest round-trip doubles,
// escaped strings, and whole JSONValue trees.

/// Bytes written by the encoder. Raw memory rather than `[UInt8]`: every append is a bounds
/// check and a store, with no uniqueness or exclusivity check on the hot path.
struct _ByteBuffer: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 256) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    @inline(never)
    private mutating func grow(_ needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
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

    var last: UInt8? { count > 0 ? base[count - 1] : nil }

    func toArray() -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base, count: count))
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
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        appendPlain(text)
    }

    // MARK: Strings

    mutating func appendString(_ text: String) {
        var text = text
        text.withUTF8 { appendEscaped($0) }
    }

    mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        append(UInt8(ascii: "\""))
        appendEscapedContents(utf8)
        append(UInt8(ascii: "\""))
    }

    /// The text of `utf8` escaped as inside a JSON string, without the quotes.
    mutating func appendEscapedContents(_ utf8: UnsafeBufferPointer<UInt8>) {
        let end = utf8.count
        guard let source = utf8.baseAddress else { return }
        // Most strings need no escaping: find out with a tight scan, then copy them whole. Eight
        // bytes at a time first (exact tests for "some byte is a quote, a backslash or below 0x20",
        // whatever the byte order), then byte by byte from the first word holding one.
        var clean = 0
        let ones: UInt64 = 0x0101_0101_0101_0101
        while clean + 8 <= end {
            // Safe: `clean + 8 <= end`, so the eight bytes lie inside `utf8`; an unaligned load reads
            // them as they are, whatever the address.
            let word = UnsafeRawPointer(source + clean).loadUnaligned(as: UInt64.self)
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            let special =
                ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes) | ((word &- ones &* 0x20) & ~word)
            if special & 0x8080_8080_8080_8080 != 0 { break }
            clean += 8
        }
        while clean < end {
            let byte = source[clean]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
            clean += 1
        }
        reserve(clean)
        (base + count).update(from: source, count: clean)
        count += clean
        if clean < end { appendEscapedTail(source + clean, end - clean) }
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
