// The C boundary: jansson documents, parsing, and reading nodes.
internal import CJansson

typealias _Node = UnsafeMutablePointer<json_t>

/// A string from UTF-8 bytes. `String(unsafeUninitializedCapacity:)` builds a short ASCII
/// string with a single check on its two words; `String(decoding:)` scans the bytes and then
/// copies them. Either way invalid UTF-8 would be repaired, not trusted.
@inline(__always)
func _string(_ bytes: UnsafeRawBufferPointer) -> String {
    guard bytes.count > 0 else { return "" }
    return String(unsafeUninitializedCapacity: bytes.count) { buffer in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
        return bytes.count
    }
}

/// Installs the arena allocator before the first parse (see `shim.h`).
private let _arenaAllocatorInstalled: Bool = {
    CJansson_install_arena_allocator()
    return true
}()

/// Owns one parsed jansson tree; releases it when it goes away.
///
/// A parsed tree lives in an arena: one block for all of jansson's allocations during the
/// parse, released whole at the end without walking the tree. The arena is current (receives
/// jansson's allocations on this thread) only while `json_loadb` runs.
struct _JanssonDocument: ~Copyable {
    let root: _Node
    private let arena: UnsafeMutablePointer<CJansson_arena>?
    /// Whether the arena's memory was allocated for this document (rather than lent to it).
    private let ownsMemory: Bool

    /// Parses `bytes`. The corresponding C function is `json_loadb`.
    ///
    /// Flags: any value at the top level (`JSON_DECODE_ANY`); `\u0000` allowed in strings
    /// (`JSON_ALLOW_NUL`: Swift strings hold NUL, as Foundation and JavaScript do); duplicate keys
    /// rejected unless `allowDuplicateKeys` (`JSON_REJECT_DUPLICATES`).
    ///
    /// `scratch`, when given, is memory the caller keeps for reuse (a decoder's per-thread
    /// state): if the arena fits in it, it is used instead of a fresh block, and the caller must
    /// keep it alive and unused by anything else until the document is gone.
    init(
        parsing bytes: UnsafeRawBufferPointer, allowDuplicateKeys: Bool,
        scratch: UnsafeMutableRawBufferPointer? = nil
    ) throws(JSONSyntaxError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw JSONSyntaxError(reason: "the input is empty", line: 1, column: 0, position: 0)
        }
        let nul = CJansson_find_nul(base, bytes.count)
        if nul >= 0 {
            let line = bytes[..<Int(nul)].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            throw JSONSyntaxError(
                reason: "a NUL byte, which JSON text never contains (write \\u0000 in a string)",
                line: line, column: 0, position: Int(nul))
        }
        var flags = Int(JSON_DECODE_ANY) | Int(JSON_ALLOW_NUL)
        if !allowDuplicateKeys { flags |= Int(JSON_REJECT_DUPLICATES) }
        precondition(_arenaAllocatorInstalled)
        // About 20 bytes of tree per byte of small documents; larger ones overflow into malloc.
        let capacity = min(1024 + bytes.count * 24, 8 << 20)
        let header = MemoryLayout<CJansson_arena>.stride
        let memory: UnsafeMutableRawPointer
        let arenaCapacity: Int
        let owned: Bool
        if let scratch, let start = scratch.baseAddress, scratch.count >= header + capacity {
            memory = start
            arenaCapacity = scratch.count - header
            owned = false
        } else {
            memory = UnsafeMutableRawPointer.allocate(byteCount: header + capacity, alignment: 16)
            arenaCapacity = capacity
            owned = true
        }
        let arena = memory.bindMemory(to: CJansson_arena.self, capacity: 1)
        CJansson_arena_begin(arena, memory + header, arenaCapacity)
        var error = CJansson_error()
        guard let root = CJansson_loadb(base.assumingMemoryBound(to: CChar.self), bytes.count, flags, &error) else {
            CJansson_arena_end(arena)
            if owned { memory.deallocate() }
            let reason = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw JSONSyntaxError(
                reason: reason, line: Int(error.line), column: Int(error.column), position: Int(error.position))
        }
        // The tree stays in the arena, but the arena stops being current: jansson calls made by
        // other code on this thread (inside a type's `init(from:)`, say) allocate as usual.
        CJansson_arena_end(arena)
        self.root = root
        self.arena = arena
        self.ownsMemory = owned
    }

    /// Takes ownership of a tree built by hand (one reference).
    init(adopting root: _Node) {
        self.root = root
        self.arena = nil
        self.ownsMemory = false
    }

    deinit {
        guard let arena else {
            CJansson_decref(root)
            return
        }
        // Only a tree that spilled out of its arena has blocks to free one by one; its blocks in
        // the arena must be recognized as such while it is released.
        if arena.pointee.overflowed != 0 {
            CJansson_arena_resume(arena)
            CJansson_decref(root)
            CJansson_arena_end(arena)
        }
        if ownsMemory { UnsafeMutableRawPointer(arena).deallocate() }
    }
}

enum _Kind {
    case object, array, string, integer, real, `true`, `false`, null
}

extension UnsafeMutablePointer where Pointee == json_t {
    @inline(__always)
    var kind: _Kind {
        switch pointee.type {
        case JSON_OBJECT: return .object
        case JSON_ARRAY: return .array
        case JSON_STRING: return .string
        case JSON_INTEGER: return .integer
        case JSON_REAL: return .real
        case JSON_TRUE: return .true
        case JSON_FALSE: return .false
        default: return .null
        }
    }

    @inline(__always)
    var isNull: Bool { pointee.type == JSON_NULL }

    /// The string's bytes, valid while the document lives. jansson checked they are UTF-8.
    @inline(__always)
    var utf8: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: json_string_value(self), count: json_string_length(self))
    }

    /// The string. `String(unsafeUninitializedCapacity:)` builds a short ASCII string with a
    /// single check on its two words; `String(decoding:)` scans the bytes and then copies them.
    /// Either way the bytes are validated again (jansson checked them already).
    @inline(__always)
    var string: String { _string(utf8) }

    @inline(__always)
    var integer: Int64 { Int64(json_integer_value(self)) }

    @inline(__always)
    var real: Double { json_real_value(self) }

    @inline(__always)
    var arrayCount: Int { json_array_size(self) }

    @inline(__always)
    func element(_ index: Int) -> _Node? { json_array_get(self, index) }

    @inline(__always)
    func member(_ key: String) -> _Node? {
        if let found = key.utf8.withContiguousStorageIfAvailable({ utf8 in
            json_object_getn(self, UnsafeRawPointer(utf8.baseAddress!).assumingMemoryBound(to: CChar.self), utf8.count)
        }) {
            return found
        }
        var key = key
        return key.withUTF8 { utf8 in
            json_object_getn(self, UnsafeRawPointer(utf8.baseAddress!).assumingMemoryBound(to: CChar.self), utf8.count)
        }
    }

    /// Calls `body` with each member's key and value, in jansson's order.
    @inline(__always)
    func forEachMember(_ body: (UnsafeRawBufferPointer, _Node) throws -> Void) rethrows {
        var iterator = json_object_iter(self)
        while let current = iterator {
            let key = UnsafeRawBufferPointer(start: json_object_iter_key(current), count: json_object_iter_key_len(current))
            try body(key, json_object_iter_value(current))
            iterator = json_object_iter_next(self, current)
        }
    }

    /// How error messages show this node: `the string "Hello"`, `the number 1.5`, `null`, `an object`.
    var described: String {
        switch kind {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "the string \(_quoted(string))"
        case .integer: return "the number \(integer)"
        case .real: return "the number \(real)"
        case .true: return "true"
        case .false: return "false"
        case .null: return "null"
        }
    }
}

/// The shared `null` node (jansson's singleton; reference counting does not apply to it).
var _nullNode: _Node { json_null() }

// MARK: - jansson tree <-> JSONValue

extension JSONValue {
    /// Converts a jansson subtree. Recursion is bounded: deeper than `maxDepth` throws.
    init(node: _Node, depth: Int, maxDepth: Int, path: () -> [any CodingKey]) throws {
        switch node.kind {
        case .null: self = .null
        case .true: self = .bool(true)
        case .false: self = .bool(false)
        case .integer: self = .integer(node.integer)
        case .real: self = .double(node.real)
        case .string: self = .string(node.string)
        case .array:
            guard depth < maxDepth else {
                throw _Errors.limit("nesting deeper than \(maxDepth) levels", path: path())
            }
            let count = node.arrayCount
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for index in 0..<count {
                elements.append(try JSONValue(node: node.element(index)!, depth: depth + 1, maxDepth: maxDepth, path: path))
            }
            self = .array(elements)
        case .object:
            guard depth < maxDepth else {
                throw _Errors.limit("nesting deeper than \(maxDepth) levels", path: path())
            }
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(json_object_size(node))
            try node.forEachMember { key, value in
                members[String(decoding: key, as: UTF8.self)] =
                    try JSONValue(node: value, depth: depth + 1, maxDepth: maxDepth, path: path)
            }
            self = .object(members)
        }
    }

    /// Builds a jansson tree with one reference, owned by the caller.
    func makeNode(depth: Int, maxDepth: Int) throws -> _Node {
        func fail(_ text: String) -> DecodingError {
            _Errors.limit(text, path: [])
        }
        switch self {
        case .null: return json_null()
        case .bool(let flag): return flag ? json_true() : json_false()
        case .integer(let number): return json_integer(json_int_t(number))
        case .double(let number):
            guard let node = json_real(number) else {
                throw fail("\(number) cannot be held in JSON")
            }
            return node
        case .string(let text):
            let length = text.utf8.count
            return text.withCString { json_stringn_nocheck($0, length) }
        case .array(let elements):
            guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
            let node = json_array()!
            for element in elements {
                let child: _Node
                do { child = try element.makeNode(depth: depth + 1, maxDepth: maxDepth) } catch {
                    CJansson_decref(node)
                    throw error
                }
                json_array_append_new(node, child)
            }
            return node
        case .object(let members):
            guard depth < maxDepth else { throw fail("nesting deeper than \(maxDepth) levels") }
            let node = json_object()!
            for (key, element) in members {
                let child: _Node
                do { child = try element.makeNode(depth: depth + 1, maxDepth: maxDepth) } catch {
                    CJansson_decref(node)
                    throw error
                }
                let length = key.utf8.count
                _ = key.withCString { json_object_setn_new_nocheck(node, $0, length, child) }
            }
            return node
        }
    }
}
