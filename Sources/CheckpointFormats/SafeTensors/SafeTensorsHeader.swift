import CheckpointCore

/// The validated header of a safetensors file: metadata and tensor entries in data order.
///
/// Parsing applies every rule of formats.md §1.4 in the reference reader's order, plus ours: no
/// duplicate names, integers in plain decimal, a bounded JSON depth.
public struct SafeTensorsHeader: Sendable {
    public struct Entry: Sendable {
        public var info: TensorInfo
        /// `[begin, end)` relative to the start of the data buffer.
        public var begin: Int
        public var end: Int
    }

    /// The reference reader's cap on the header length, in bytes.
    public static let maxHeaderLength = 100_000_000

    /// `__metadata__` in file order, or nil when absent (or `null`).
    public var metadata: [(key: String, value: String)]?
    /// Entries sorted by data offset (the file's layout order).
    public var entries: [Entry]
    /// `N`: the header length in bytes, padding included.
    public var headerLength: Int
    public var dataStart: Int { 8 + headerLength }
    /// Where the data buffer ends (absolute): `8 + N + last end`.
    public var dataEnd: Int { dataStart + (entries.last?.end ?? 0) }

    /// Reads and validates the header of `file` (only the header bytes are read).
    public static func read(from file: ReadOnlyFile) throws -> SafeTensorsHeader {
        let path = file.path
        guard file.size >= 8 else {
            let detected = DetectedFormat.sniff(try file.read(at: 0, count: file.size))
            if detected != .unknown && detected != .empty && detected != .safetensors {
                throw SafeTensorsError.notSafetensors(file: path, detected: detected)
            }
            throw SafeTensorsError.headerTooSmall(file: path, size: file.size)
        }
        let lengthBytes = try file.read(at: 0, count: 8)
        let length = lengthBytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        let sniffed = { () throws -> DetectedFormat in DetectedFormat.sniff(try file.read(at: 0, count: min(file.size, 512))) }
        guard length <= UInt64(maxHeaderLength) else {
            let detected = try sniffed()
            if detected != .unknown && detected != .safetensors { throw SafeTensorsError.notSafetensors(file: path, detected: detected) }
            throw SafeTensorsError.headerTooLarge(file: path, length: length)
        }
        let headerLength = Int(length)
        guard headerLength <= file.size - 8 else {
            let detected = try sniffed()
            if detected != .unknown && detected != .safetensors { throw SafeTensorsError.notSafetensors(file: path, detected: detected) }
            throw SafeTensorsError.invalidHeaderLength(file: path, length: length, fileSize: file.size)
        }
        let headerBytes = try file.read(at: 8, count: headerLength)
        return try parse(headerBytes, headerLength: headerLength, fileSize: file.size, path: path)
    }

    /// Validates header bytes (without the 8-byte length) against a file of `fileSize` bytes.
    public static func parse(_ headerBytes: [UInt8], headerLength: Int, fileSize: Int, path: String) throws -> SafeTensorsHeader {
        if let bad = firstInvalidUTF8(headerBytes) {
            throw SafeTensorsError.headerNotUTF8(file: path, offset: 8 + bad)
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(headerBytes)
        } catch {
            throw SafeTensorsError.invalidJSON(file: path, offset: 8 + error.offset, reason: error.message)
        }
        guard case let .object(members) = document else {
            throw SafeTensorsError.headerNotObject(file: path, found: document.kindName)
        }
        var metadata: [(key: String, value: String)]?
        var sawMetadata = false
        var entries: [Entry] = []
        var names = Set<[UInt8]>()
        for member in members {
            if member.key == "__metadata__" && member.key.utf8.elementsEqual("__metadata__".utf8) {
                guard !sawMetadata else { throw SafeTensorsError.invalidMetadata(file: path, key: nil, reason: "appears twice") }
                sawMetadata = true
                metadata = try parseMetadata(member.value, path: path)
                continue
            }
            guard names.insert(Array(member.key.utf8)).inserted else {
                throw SafeTensorsError.duplicateName(file: path, tensor: member.key)
            }
            entries.append(try parseEntry(member.key, member.value, path: path))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var expected = 0
        for entry in entries {
            guard entry.begin == expected, entry.end >= entry.begin else {
                throw SafeTensorsError.invalidOffset(file: path, tensor: entry.info.name, begin: entry.begin, end: entry.end, expected: expected)
            }
            expected = entry.end
            let span = entry.end - entry.begin
            guard span == entry.info.byteCount else {
                throw SafeTensorsError.sizeMismatch(file: path, tensor: entry.info.name, bytes: span, expected: entry.info.byteCount)
            }
        }
        let header = SafeTensorsHeader(metadata: metadata, entries: entries, headerLength: headerLength)
        let (end, overflow) = header.dataStart.addingReportingOverflow(expected)
        if overflow || end > fileSize {
            let last = entries.last?.info.name ?? ""
            throw SafeTensorsError.dataTruncated(file: path, tensor: last, needed: overflow ? Int.max : end, fileSize: fileSize)
        }
        if end < fileSize { throw SafeTensorsError.trailingBytes(file: path, end: end, fileSize: fileSize) }
        return header
    }

    private static func parseMetadata(_ value: JSONValue, path: String) throws -> [(key: String, value: String)]? {
        switch value {
        case .null: return nil
        case let .object(members):
            var seen = Set<[UInt8]>()
            var pairs: [(key: String, value: String)] = []
            for member in members {
                guard case let .string(text) = member.value else {
                    throw SafeTensorsError.invalidMetadata(file: path, key: member.key, reason: "value is \(member.value.kindName), not a string")
                }
                guard seen.insert(Array(member.key.utf8)).inserted else {
                    throw SafeTensorsError.invalidMetadata(file: path, key: member.key, reason: "key appears twice")
                }
                pairs.append((member.key, text))
            }
            return pairs
        default:
            throw SafeTensorsError.invalidMetadata(file: path, key: nil, reason: "is \(value.kindName), not an object")
        }
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, path: String) throws -> Entry {
        guard case let .object(fields) = value else {
            throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "entry is \(value.kindName), expected an object with dtype, shape and data_offsets")
        }
        var seen = Set<String>()
        for field in fields where ["dtype", "shape", "data_offsets"].contains(field.key) {
            guard seen.insert(field.key).inserted else {
                throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "field '\(field.key)' appears twice")
            }
        }
        guard let dtypeValue = value["dtype"] else { throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "missing field 'dtype'") }
        guard let dtypeName = dtypeValue.stringValue else {
            throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "'dtype' is \(dtypeValue.kindName), expected a string")
        }
        guard case let .array(shapeItems)? = value["shape"] else {
            throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: value["shape"] == nil ? "missing field 'shape'" : "'shape' must be an array of non-negative integers")
        }
        guard case let .array(offsetItems)? = value["data_offsets"] else {
            throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: value["data_offsets"] == nil ? "missing field 'data_offsets'" : "'data_offsets' must be an array of two non-negative integers")
        }
        var shape: [Int] = []
        for item in shapeItems {
            guard let dim = item.nonNegativeInteger else {
                throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "shape entry \(describe(item)) is not a non-negative integer")
            }
            shape.append(dim)
        }
        guard offsetItems.count == 2 else {
            throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "data_offsets has \(offsetItems.count) values, expected 2 ([begin, end])")
        }
        guard let begin = offsetItems[0].nonNegativeInteger, let end = offsetItems[1].nonNegativeInteger else {
            throw SafeTensorsError.invalidTensorEntry(file: path, tensor: name, reason: "data_offsets must be non-negative integers")
        }
        guard let dtype = SafeTensorsDType.dtype(named: dtypeName) else {
            throw SafeTensorsError.unknownDType(file: path, tensor: name, dtype: dtypeName)
        }
        do {
            let info = try TensorInfo(name: name, dtype: dtype, shape: shape)
            return Entry(info: info, begin: begin, end: end)
        } catch {
            switch error {
            case .overflow, .negativeDimension, .partialBlock:
                // safetensors has no block-quantized dtypes, so `.partialBlock` cannot arise here.
                throw SafeTensorsError.shapeOverflow(file: path, tensor: name, shape: shape, dtype: dtypeName)
            case let .partialByte(_, elements, _):
                throw SafeTensorsError.misalignedSubByte(file: path, tensor: name, elements: elements, dtype: dtypeName)
            }
        }
    }

    private static func describe(_ value: JSONValue) -> String {
        if case let .number(text) = value { return text }
        return value.kindName
    }

    /// The index of the first byte that is not part of valid UTF-8, or nil.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        if String(validating: bytes, as: UTF8.self) != nil { return nil }
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        var start = 0
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar):
                offset += UTF8.width(scalar)
                start = offset
            case .emptyInput: return nil
            case .error: return start
            }
        }
    }
}
