import CheckpointCore

/// Serialises GGUF headers exactly as gguf-py's `GGUFWriter` does (formats.md §2.7): magic, version 3,
/// u64 counts, key/values in the order given, tensor infos with `len(shape)` dims reversed to ggml order
/// and offsets that are the running sum of sizes padded to the alignment, then zero padding.
enum GGUFEncoding {
    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        append(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// The value's bytes after its type id (arrays: element type, count, elements).
    static func appendValue(_ value: GGUFValue, key: String, file: String, to out: inout [UInt8]) throws(GGUFError) {
        switch value {
        case let .uint8(v): out.append(v)
        case let .int8(v): append(v, to: &out)
        case let .uint16(v): append(v, to: &out)
        case let .int16(v): append(v, to: &out)
        case let .uint32(v): append(v, to: &out)
        case let .int32(v): append(v, to: &out)
        case let .float32(v): append(v.bitPattern, to: &out)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(bytes): appendString(bytes, to: &out)
        case let .uint64(v): append(v, to: &out)
        case let .int64(v): append(v, to: &out)
        case let .float64(v): append(v.bitPattern, to: &out)
        case let .array(array):
            append(array.elementType.rawValue, to: &out)
            append(UInt64(array.values.count), to: &out)
            for element in array.values {
                guard element.type == array.elementType else { throw .arrayElementTypeMismatch(file: file, key: key) }
                try appendValue(element, key: key, file: file, to: &out)
            }
        }
    }

    /// Checks what a writer must refuse and returns the padding unit.
    static func alignment(of metadata: GGUFMetadata, file: String) throws(GGUFError) -> Int {
        guard let value = metadata[GGUFConstants.Key.alignment] else { return GGUFConstants.defaultAlignment }
        guard case let .uint32(raw) = value, raw != 0, raw & (raw - 1) == 0 else {
            throw .invalidAlignmentToWrite(file: file, alignment: "\(value.type.name) \(value)")
        }
        return Int(raw)
    }

    /// The ggml type id of each tensor, refusing what GGUF (or llama.cpp) cannot hold.
    static func typeIDs(_ tensors: [TensorInfo], file: String) throws(GGUFError) -> [UInt32] {
        var seen: [[UInt8]: Int] = [:]
        var ids: [UInt32] = []
        for (index, tensor) in tensors.enumerated() {
            guard let id = GGMLType.id(for: tensor.dtype) else { throw .cannotStore(file: file, tensor: tensor.name, dtype: tensor.dtype) }
            let name = Array(tensor.name.utf8)
            guard name.count <= GGUFConstants.maxNameBytes else { throw .nameTooLongToWrite(file: file, tensor: tensor.name) }
            guard tensor.shape.count <= GGUFConstants.maxDimensions else {
                throw .tooManyDimensions(file: file, tensor: tensor.name, dimensions: UInt32(tensor.shape.count))
            }
            if let first = seen[name] { throw .duplicateTensorName(file: file, tensor: tensor.name, first: first, second: index) }
            seen[name] = index
            ids.append(id)
        }
        return ids
    }

    /// Header bytes up to and including the padding before the data section.
    static func header(metadata: GGUFMetadata, tensors: [TensorInfo], typeIDs: [UInt32], alignment: Int, file: String) throws(GGUFError) -> [UInt8] {
        var out: [UInt8] = GGUFConstants.magic
        append(GGUFConstants.version, to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.entries.count), to: &out)
        for entry in metadata.entries {
            appendString(Array(entry.key.utf8), to: &out)
            append(entry.value.type.rawValue, to: &out)
            try appendValue(entry.value, key: entry.key, file: file, to: &out)
        }
        var offset = 0
        for (tensor, id) in zip(tensors, typeIDs) {
            appendString(Array(tensor.name.utf8), to: &out)
            append(UInt32(tensor.shape.count), to: &out)
            for dimension in tensor.shape.reversed() { append(UInt64(dimension), to: &out) }
            append(id, to: &out)
            append(UInt64(offset), to: &out)
            offset = GGUFLayout.padded(offset + tensor.byteCount, to: alignment) ?? offset
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: (GGUFLayout.padded(out.count, to: alignment) ?? out.count) - out.count))
        return out
    }
}
