import CheckpointCore

/// One tensor of a GGUF file: what every reader of ckpt sees (`info`, shape outermost-first) plus the
/// GGUF facts (`ne` innermost-first, type id, offset in the data section).
public struct GGUFTensorEntry: Sendable, Equatable {
    public var info: TensorInfo
    public var typeID: UInt32
    public var ne: [UInt64]
    /// Offset of the first byte relative to the data section.
    public var offset: Int
}

/// The parsed and validated header of a GGUF file: version, metadata, tensor table and data layout.
///
/// Validation follows ggml's `gguf_init_from_reader` check by check (formats.md §2.6), plus the
/// end-of-file bound of llama.cpp's loader; each failure is its own `GGUFError` case.
public struct GGUFHeader: Sendable {
    public var version: UInt32
    public var metadata: GGUFMetadata
    public var tensors: [GGUFTensorEntry]
    public var alignment: Int
    /// Absolute offset of the data section (the header padded to `alignment`).
    public var dataStart: Int

    public static func read(from file: ReadOnlyFile) throws(GGUFError) -> GGUFHeader {
        let path = file.path
        var cursor = GGUFCursor(file: file)
        let magic = (try? file.read(at: 0, count: min(4, file.size))) ?? []
        guard magic == GGUFConstants.magic else { throw .badMagic(file: path, found: magic) }
        _ = try cursor.bytes(4, "magic")
        let version = try cursor.u32("version")
        if version == 0 { throw .versionZero(file: path) }
        if version & 0xFFFF == 0 { throw .bigEndian(file: path, version: version) }
        if version == 1 { throw .version1(file: path) }
        if version > GGUFConstants.version { throw .versionTooNew(file: path, version: version) }

        let tensorCount = try cursor.u64("tensor count")
        let keyCount = try cursor.u64("key/value count")
        // Smallest possible entries: a tensor info is ≥ 25 bytes (8 + 1 name byte + 4 + 4 + 8), a
        // key/value ≥ 14 (8 + 1 + 4 + 1). Counts that cannot fit are refused before any allocation.
        guard tensorCount <= UInt64(cursor.remaining / 25) else { throw .tooManyTensors(file: path, count: tensorCount) }
        guard keyCount <= UInt64(cursor.remaining / 14) else { throw .tooManyKeys(file: path, count: keyCount) }

        var entries: [GGUFKeyValue] = []
        entries.reserveCapacity(Int(keyCount))
        var keyIndex: [[UInt8]: Int] = [:]
        for index in 0..<Int(keyCount) {
            let keyOffset = cursor.offset
            let keyBytes = try cursor.string("key \(index)")
            guard !keyBytes.isEmpty else { throw .emptyKey(file: path, index: index, offset: keyOffset) }
            guard let key = String(validating: keyBytes, as: UTF8.self) else {
                throw .keyNotUTF8(file: path, index: index, offset: keyOffset)
            }
            if let first = keyIndex[keyBytes] { throw .duplicateKey(file: path, key: key, first: first, second: index) }
            keyIndex[keyBytes] = index
            let typeOffset = cursor.offset
            let rawType = try cursor.u32("type of key '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .invalidValueType(file: path, key: key, offset: typeOffset, type: rawType)
            }
            let value = try readValue(type, key: key, depth: 0, cursor: &cursor)
            entries.append(GGUFKeyValue(key, value))
        }
        let metadata = GGUFMetadata(entries)

        var alignment = GGUFConstants.defaultAlignment
        if let value = metadata[GGUFConstants.Key.alignment] {
            guard case let .uint32(raw) = value else { throw .alignmentNotU32(file: path, type: value.type.name) }
            guard raw != 0, raw & (raw - 1) == 0 else { throw .alignmentNotPowerOfTwo(file: path, alignment: UInt64(raw)) }
            alignment = Int(raw)
        }

        var tensors: [GGUFTensorEntry] = []
        tensors.reserveCapacity(Int(tensorCount))
        var rawOffsets: [UInt64] = []
        var nameIndex: [[UInt8]: Int] = [:]
        for index in 0..<Int(tensorCount) {
            let nameOffset = cursor.offset
            let nameBytes = try cursor.string("name of tensor \(index)")
            guard nameBytes.count <= GGUFConstants.maxNameBytes else {
                throw .tensorNameTooLong(file: path, index: index, length: nameBytes.count)
            }
            guard !nameBytes.isEmpty else { throw .tensorNameEmpty(file: path, index: index, offset: nameOffset) }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw .tensorNameNotUTF8(file: path, index: index, offset: nameOffset)
            }
            if let first = nameIndex[nameBytes] {
                throw .duplicateTensorName(file: path, tensor: name, first: first, second: index)
            }
            nameIndex[nameBytes] = index
            let dimensions = try cursor.u32("dimension count of tensor '\(name)'")
            guard dimensions <= UInt32(GGUFConstants.maxDimensions) else {
                throw .tooManyDimensions(file: path, tensor: name, dimensions: dimensions)
            }
            var ne: [UInt64] = []
            for dimension in 0..<Int(dimensions) {
                let value = try cursor.u64("dimension \(dimension) of tensor '\(name)'")
                guard value <= UInt64(Int64.max) else {
                    throw .negativeDimension(file: path, tensor: name, dimension: dimension, value: value)
                }
                ne.append(value)
            }
            var elements = 1
            for value in ne {
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(value))
                guard !overflow else { throw .elementCountOverflow(file: path, tensor: name, ne: ne) }
                elements = product
            }
            let typeID = try cursor.u32("type of tensor '\(name)'")
            guard typeID < GGMLType.idCount else { throw .invalidGGMLType(file: path, tensor: name, type: typeID) }
            if GGMLType.removedIDs[typeID] != nil { throw .removedGGMLType(file: path, tensor: name, type: typeID) }
            guard let dtype = GGMLType.dtype(forID: typeID) else {
                throw .unsupportedGGMLType(file: path, tensor: name, type: typeID)
            }
            let rowLength = ne.first.map { Int($0) } ?? 1
            if let block = dtype.blockLayout, rowLength % block.elements != 0 {
                throw .partialBlock(file: path, tensor: name, type: GGMLType.name(forID: typeID), rowLength: rowLength, blockSize: block.elements)
            }
            let info: TensorInfo
            do {
                info = try TensorInfo(name: name, dtype: dtype, shape: ne.reversed().map { Int($0) })
            } catch {
                throw .byteSizeOverflow(file: path, tensor: name, ne: ne)
            }
            let offset = try cursor.u64("data offset of tensor '\(name)'")
            rawOffsets.append(offset)
            tensors.append(GGUFTensorEntry(info: info, typeID: typeID, ne: ne, offset: 0))
        }

        let headerEnd = cursor.offset
        let dataStart = GGUFLayout.padded(headerEnd, to: alignment) ?? Int.max
        if !tensors.isEmpty && dataStart > file.size {
            throw .dataStartBeyondEnd(file: path, dataStart: dataStart, fileSize: file.size)
        }
        // ggml accepts only back-to-back data in tensor-info order; the failure is named precisely.
        var expected = 0
        for index in tensors.indices {
            let name = tensors[index].info.name
            let offset = rawOffsets[index]
            if offset % UInt64(alignment) != 0 {
                throw .misalignedOffset(file: path, tensor: name, offset: offset, alignment: alignment)
            }
            if offset != UInt64(expected) {
                if index > 0 && offset < rawOffsets[index - 1] {
                    throw .offsetOutOfOrder(file: path, tensor: name, offset: offset, previous: rawOffsets[index - 1])
                }
                if offset < UInt64(expected) { throw .overlappingOffset(file: path, tensor: name, offset: offset, expected: expected) }
                throw .gapBeforeTensor(file: path, tensor: name, offset: offset, expected: expected)
            }
            let bytes = tensors[index].info.byteCount
            let (end, overflow) = (dataStart + expected).addingReportingOverflow(bytes)
            guard !overflow, end <= file.size else {
                throw .dataOutOfBounds(file: path, tensor: name, end: overflow ? UInt64.max : UInt64(end), fileSize: file.size)
            }
            tensors[index].offset = expected
            guard let next = GGUFLayout.padded(expected + bytes, to: alignment) else {
                throw .dataOutOfBounds(file: path, tensor: name, end: UInt64.max, fileSize: file.size)
            }
            expected = next
        }
        return GGUFHeader(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }

    private static func readValue(_ type: GGUFValueType, key: String, depth: Int, cursor: inout GGUFCursor) throws(GGUFError) -> GGUFValue {
        // Built only when an error needs it: token tables call this 100 000+ times.
        func what() -> String { "value of key '\(key)'" }
        switch type {
        case .uint8: return .uint8(try cursor.integer(UInt8.self, what()))
        case .int8: return .int8(try cursor.integer(Int8.self, what()))
        case .uint16: return .uint16(try cursor.integer(UInt16.self, what()))
        case .int16: return .int16(try cursor.integer(Int16.self, what()))
        case .uint32: return .uint32(try cursor.u32(what()))
        case .int32: return .int32(try cursor.integer(Int32.self, what()))
        case .float32: return .float32(Float(bitPattern: try cursor.u32(what())))
        case .uint64: return .uint64(try cursor.u64(what()))
        case .int64: return .int64(try cursor.integer(Int64.self, what()))
        case .float64: return .float64(Double(bitPattern: try cursor.u64(what())))
        case .bool:
            let offset = cursor.offset
            let byte = try cursor.integer(UInt8.self, what())
            guard byte <= 1 else { throw .invalidBool(file: cursor.file.path, key: key, offset: offset, value: byte) }
            return .bool(byte == 1)
        case .string:
            return .string(try cursor.string(what()))
        case .array:
            let offset = cursor.offset
            guard depth < GGUFConstants.maxArrayNesting else { throw .arrayTooDeep(file: cursor.file.path, key: key, offset: offset) }
            let rawType = try cursor.u32("element type of key '\(key)'")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw .invalidValueType(file: cursor.file.path, key: key, offset: offset, type: rawType)
            }
            let count = try cursor.u64("element count of key '\(key)'")
            // Strings and arrays take at least 8 bytes each (their own length or header).
            let minimum = UInt64(elementType.fixedSize ?? (elementType == .string ? 8 : 12))
            guard count <= UInt64(GGUFConstants.maxArrayCount), count * minimum <= UInt64(cursor.remaining) else {
                throw .arrayTooLong(file: cursor.file.path, key: key, offset: offset, count: count)
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                values.append(try readValue(elementType, key: key, depth: depth + 1, cursor: &cursor))
            }
            return .array(GGUFArray(elementType: elementType, values: values))
        }
    }
}

/// Padding arithmetic shared by the reader and the writers.
enum GGUFLayout {
    /// `value` rounded up to a multiple of `alignment` (a power of two), nil on overflow.
    static func padded(_ value: Int, to alignment: Int) -> Int? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        guard !overflow else { return nil }
        return sum / alignment * alignment
    }
}
