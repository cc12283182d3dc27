// JSONValue's parsing, serialization and Codable conformance.

extension JSONValue {
    /// Parses UTF-8 JSON bytes.
    ///
    /// - Throws: `DecodingError.dataCorrupted` for invalid JSON (with a ``JSONSyntaxError``), or
    ///   for nesting deeper than 512 levels.
    public init(parsing bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try JSONValue(parsing: $0) }
    }

    /// Parses UTF-8 JSON bytes in memory, such as a NATS payload, without copying them first.
    public init(parsing buffer: UnsafeRawBufferPointer) throws {
        try self.init(parsing: buffer, maxDepth: HemeraJSONDecoder().maxDepth)
    }

    init(parsing bytes: [UInt8], maxDepth: Int) throws {
        self = try bytes.withUnsafeBytes { try JSONValue(parsing: $0, maxDepth: maxDepth) }
    }

    /// Parses with the layer's reader straight into a value (no tape): duplicate keys and
    /// nesting deeper than `maxDepth` are errors, as in ``HemeraJSONDecoder``.
    init(parsing buffer: UnsafeRawBufferPointer, maxDepth: Int) throws {
        let limit = HemeraJSONDecoder().maxInputLength
        guard buffer.count <= limit else {
            throw _Errors.limit("the input has \(buffer.count) bytes, more than the limit of \(limit)", path: [])
        }
        guard buffer.count > 0 else {
            throw HemeraJSONDecoder.decodingError(.syntax(.init(reason: "the input is empty", offset: 0)), in: buffer)
        }
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        var scanner = _JSONScanner(bytes: bytes)
        do throws(EnvelopeParser.Failure) {
            scanner.skipSpace()
            let value = try scanner.value(depth: 0, maxDepth: maxDepth, rejectsDuplicates: true)
            scanner.skipSpace()
            guard scanner.index == bytes.count else { throw scanner.trailingData() }
            self = value
        } catch {
            if error.reason == _JSONScanner.nestingTooDeep {
                throw HemeraJSONDecoder.decodingError(.limit("nesting deeper than \(maxDepth) levels"), in: buffer)
            }
            throw HemeraJSONDecoder.decodingError(.syntax(error), in: buffer)
        }
    }

    /// Serializes this value as compact UTF-8 JSON bytes.
    ///
    /// Object members come in the dictionary's order; use ``HemeraJSONEncoder`` with
    /// `.sortedKeys` for a stable order.
    ///
    /// - Throws: `EncodingError.invalidValue` for an infinite or NaN double.
    public func serialized() throws -> [UInt8] {
        try HemeraJSONEncoder().encode(self)
    }
}

extension JSONValue: Codable {
    /// Decodes any JSON value. ``HemeraJSONDecoder`` takes a shortcut and never calls this;
    /// it serves other decoders (Foundation's, for instance).
    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: _JSONKey.self) {
            var members: [String: JSONValue] = [:]
            for key in container.allKeys {
                members[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
            self = .object(members)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            if let count = container.count { elements.reserveCapacity(count) }
            while !container.isAtEnd {
                elements.append(try container.decode(JSONValue.self))
            }
            self = .array(elements)
            return
        }
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    /// Encodes this value. ``HemeraJSONEncoder`` takes a shortcut and never calls this;
    /// it serves other encoders.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .integer(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .double(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .string(let value):
            var container = encoder.singleValueContainer()
            try container.encode(value)
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case .object(let members):
            var container = encoder.container(keyedBy: _JSONKey.self)
            for (key, member) in members {
                try container.encode(member, forKey: _JSONKey(stringValue: key))
            }
        }
    }
}
