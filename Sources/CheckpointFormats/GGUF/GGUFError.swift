import CheckpointCore

/// Every way a GGUF file (or split set) can be wrong, one case per rule of ggml's reader
/// (formats.md §2.6) plus our stricter ones, each naming the file and where in it.
public enum GGUFError: Error, Sendable, Equatable, CustomStringConvertible {
    case badMagic(file: String, found: [UInt8])
    case versionZero(file: String)
    case bigEndian(file: String, version: UInt32)
    case version1(file: String)
    case versionTooNew(file: String, version: UInt32)
    case truncated(file: String, what: String, offset: Int, needed: Int, fileSize: Int)
    case tooManyTensors(file: String, count: UInt64)
    case tooManyKeys(file: String, count: UInt64)
    case stringTooLong(file: String, what: String, offset: Int, length: UInt64)
    case arrayTooLong(file: String, key: String, offset: Int, count: UInt64)
    case arrayTooDeep(file: String, key: String, offset: Int)
    case emptyKey(file: String, index: Int, offset: Int)
    case keyNotUTF8(file: String, index: Int, offset: Int)
    case duplicateKey(file: String, key: String, first: Int, second: Int)
    case invalidValueType(file: String, key: String, offset: Int, type: UInt32)
    case invalidBool(file: String, key: String, offset: Int, value: UInt8)
    case alignmentNotU32(file: String, type: String)
    case alignmentNotPowerOfTwo(file: String, alignment: UInt64)
    case tensorNameNotUTF8(file: String, index: Int, offset: Int)
    case tensorNameEmpty(file: String, index: Int, offset: Int)
    case tensorNameTooLong(file: String, index: Int, length: Int)
    case duplicateTensorName(file: String, tensor: String, first: Int, second: Int)
    case tooManyDimensions(file: String, tensor: String, dimensions: UInt32)
    case negativeDimension(file: String, tensor: String, dimension: Int, value: UInt64)
    case elementCountOverflow(file: String, tensor: String, ne: [UInt64])
    case invalidGGMLType(file: String, tensor: String, type: UInt32)
    case removedGGMLType(file: String, tensor: String, type: UInt32)
    case unsupportedGGMLType(file: String, tensor: String, type: UInt32)
    case partialBlock(file: String, tensor: String, type: String, rowLength: Int, blockSize: Int)
    case byteSizeOverflow(file: String, tensor: String, ne: [UInt64])
    case dataStartBeyondEnd(file: String, dataStart: Int, fileSize: Int)
    case misalignedOffset(file: String, tensor: String, offset: UInt64, alignment: Int)
    case overlappingOffset(file: String, tensor: String, offset: UInt64, expected: Int)
    case offsetOutOfOrder(file: String, tensor: String, offset: UInt64, previous: UInt64)
    case gapBeforeTensor(file: String, tensor: String, offset: UInt64, expected: Int)
    case dataOutOfBounds(file: String, tensor: String, end: UInt64, fileSize: Int)
    // Split sets.
    case splitPartMissing(file: String, part: Int, count: Int)
    case splitKeyMissing(file: String, key: String)
    case splitKeyType(file: String, key: String, expected: String, found: String)
    case splitIndexMismatch(file: String, found: Int, expected: Int)
    case splitCountMismatch(file: String, found: Int, expected: Int)
    case splitTensorCountMismatch(file: String, declared: Int, found: Int)
    case duplicateTensorAcrossSplits(file: String, tensor: String, other: String)
    // Writing.
    case cannotStore(file: String, tensor: String, dtype: DType)
    case nameTooLongToWrite(file: String, tensor: String)
    case invalidAlignmentToWrite(file: String, alignment: String)
    case arrayElementTypeMismatch(file: String, key: String)
    case tooManySplitParts(file: String, parts: Int)

    /// The case name, stable for tests and the malformed-corpus manifest.
    public var caseName: String {
        let mirror = Mirror(reflecting: self)
        return mirror.children.first?.label ?? String(describing: self)
    }

    public var description: String {
        func q(_ s: String) -> String { "'" + escapedForTerminal(s) + "'" }
        func shape(_ ne: [UInt64]) -> String { "ne [" + ne.map(String.init).joined(separator: ", ") + "]" }
        switch self {
        case let .badMagic(file, found):
            let shown = found.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            return "\(q(file)): invalid magic characters '\(shown)', expected 'GGUF'; this is not a GGUF file"
        case let .versionZero(file):
            return "\(q(file)): bad GGUF version 0 at offset 4; the file is corrupt"
        case let .bigEndian(file, version):
            return "\(q(file)): version field \(version) is byte-swapped: this is a big-endian GGUF file, which ckpt does not read; convert it with gguf-py's gguf_convert_endian.py first"
        case let .version1(file):
            return "\(q(file)): GGUF version 1 is no longer supported (32-bit counts); re-convert the model with a current converter"
        case let .versionTooNew(file, version):
            return "\(q(file)): GGUF version \(version), but ckpt reads versions 2 and 3; update ckpt"
        case let .truncated(file, what, offset, needed, fileSize):
            return "\(q(file)): \(what) at offset \(offset) needs \(needed) bytes but the file ends at \(fileSize); the file is truncated (re-download it)"
        case let .tooManyTensors(file, count):
            return "\(q(file)): tensor count \(count) at offset 8 cannot fit in the file; the header is corrupt"
        case let .tooManyKeys(file, count):
            return "\(q(file)): key/value count \(count) at offset 16 cannot fit in the file; the header is corrupt"
        case let .stringTooLong(file, what, offset, length):
            return "\(q(file)): \(what) at offset \(offset) claims \(length) bytes, more than the file holds or the 1 GiB limit; the header is corrupt"
        case let .arrayTooLong(file, key, offset, count):
            return "\(q(file)): key \(q(key)): array at offset \(offset) claims \(count) elements, more than the file holds or the 2^30 limit; the header is corrupt"
        case let .arrayTooDeep(file, key, offset):
            return "\(q(file)): key \(q(key)): arrays nested more than \(GGUFConstants.maxArrayNesting) deep at offset \(offset)"
        case let .emptyKey(file, index, offset):
            return "\(q(file)): key \(index) at offset \(offset) is empty"
        case let .keyNotUTF8(file, index, offset):
            return "\(q(file)): key \(index) at offset \(offset) is not valid UTF-8 (GGUF keys are ASCII)"
        case let .duplicateKey(file, key, first, second):
            return "\(q(file)): duplicate key \(q(key)) (entries \(first) and \(second))"
        case let .invalidValueType(file, key, offset, type):
            return "\(q(file)): key \(q(key)) has invalid GGUF value type \(type) at offset \(offset) (valid: 0–12)"
        case let .invalidBool(file, key, offset, value):
            return "\(q(file)): key \(q(key)): boolean at offset \(offset) is \(value), not 0 or 1"
        case let .alignmentNotU32(file, type):
            return "\(q(file)): key 'general.alignment' must be of type UINT32 but is \(type)"
        case let .alignmentNotPowerOfTwo(file, alignment):
            return "\(q(file)): general.alignment \(alignment) is not a power of 2"
        case let .tensorNameNotUTF8(file, index, offset):
            return "\(q(file)): the name of tensor \(index) at offset \(offset) is not valid UTF-8"
        case let .tensorNameEmpty(file, index, offset):
            return "\(q(file)): tensor \(index) at offset \(offset) has an empty name"
        case let .tensorNameTooLong(file, index, length):
            return "\(q(file)): tensor name \(index) is too long: \(length) bytes (ggml allows at most \(GGUFConstants.maxNameBytes))"
        case let .duplicateTensorName(file, tensor, first, second):
            return "\(q(file)): duplicate tensor name \(q(tensor)) for tensors \(first) and \(second)"
        case let .tooManyDimensions(file, tensor, dimensions):
            return "\(q(file)): tensor \(q(tensor)) has invalid number of dimensions: \(dimensions) > \(GGUFConstants.maxDimensions)"
        case let .negativeDimension(file, tensor, dimension, value):
            return "\(q(file)): tensor \(q(tensor)) dimension \(dimension) has invalid number of elements: \(Int64(bitPattern: value)) < 0"
        case let .elementCountOverflow(file, tensor, ne):
            return "\(q(file)): total number of elements in tensor \(q(tensor)) with \(shape(ne)) overflows 63 bits"
        case let .invalidGGMLType(file, tensor, type):
            return "\(q(file)): tensor \(q(tensor)) has invalid ggml type \(type), should be in [0, \(GGMLType.idCount))"
        case let .removedGGMLType(file, tensor, type):
            return "\(q(file)): tensor \(q(tensor)) has ggml type \(GGMLType.name(forID: type)) (\(type)), which was removed from ggml and has no layout; re-quantize the model"
        case let .unsupportedGGMLType(file, tensor, type):
            return "\(q(file)): tensor \(q(tensor)) has ggml type \(GGMLType.name(forID: type)) (\(type)), which ckpt cannot represent yet"
        case let .partialBlock(file, tensor, type, rowLength, blockSize):
            return "\(q(file)): tensor \(q(tensor)) of type \(type) has \(rowLength) elements per row, not a multiple of block size (\(blockSize))"
        case let .byteSizeOverflow(file, tensor, ne):
            return "\(q(file)): tensor \(q(tensor)) with \(shape(ne)) has a size in bytes that overflows"
        case let .dataStartBeyondEnd(file, dataStart, fileSize):
            return "\(q(file)): the data section starts at \(dataStart), past the end of the file (\(fileSize) bytes); the file is truncated"
        case let .misalignedOffset(file, tensor, offset, alignment):
            return "\(q(file)): tensor \(q(tensor)) has offset \(offset), not a multiple of the alignment \(alignment)"
        case let .overlappingOffset(file, tensor, offset, expected):
            return "\(q(file)): tensor \(q(tensor)) has offset \(offset), expected \(expected): its data overlaps the previous tensor's"
        case let .offsetOutOfOrder(file, tensor, offset, previous):
            return "\(q(file)): tensor \(q(tensor)) has offset \(offset), before the previous tensor's \(previous): ggml requires tensor data in tensor-info order"
        case let .gapBeforeTensor(file, tensor, offset, expected):
            return "\(q(file)): tensor \(q(tensor)) has offset \(offset), expected \(expected): ggml allows no gap between tensors"
        case let .dataOutOfBounds(file, tensor, end, fileSize):
            return "\(q(file)): tensor \(q(tensor)) data ends at byte \(end), past the end of the file (\(fileSize) bytes); the model is corrupted or incomplete (re-download it)"
        case let .splitPartMissing(file, part, count):
            return "\(q(file)): part \(part) of \(count) of this split GGUF set is missing"
        case let .splitKeyMissing(file, key):
            return "\(q(file)): missing key \(key) in this GGUF split"
        case let .splitKeyType(file, key, expected, found):
            return "\(q(file)): key \(key) must be \(expected) but is \(found)"
        case let .splitIndexMismatch(file, found, expected):
            return "\(q(file)): invalid split file index \(found), expected \(expected) (0-based split.no)"
        case let .splitCountMismatch(file, found, expected):
            return "\(q(file)): split.count is \(found) but the set's first file says \(expected)"
        case let .splitTensorCountMismatch(file, declared, found):
            return "\(q(file)): split.tensors.count declares \(declared) tensors but the parts hold \(found)"
        case let .duplicateTensorAcrossSplits(file, tensor, other):
            return "\(q(file)): tensor \(q(tensor)) is also in \(q(other)); the split set is corrupt"
        case let .cannotStore(file, tensor, dtype):
            return "\(q(file)): tensor \(q(tensor)) is \(dtype.userName), which GGUF has no type for; cast it with --dtype or --exclude it"
        case let .nameTooLongToWrite(file, tensor):
            return "\(q(file)): tensor name \(q(tensor)) is longer than \(GGUFConstants.maxNameBytes) bytes, which llama.cpp refuses; shorten it with --rename"
        case let .invalidAlignmentToWrite(file, alignment):
            return "\(q(file)): general.alignment must be a UINT32 power of two, got \(alignment)"
        case let .tooManySplitParts(file, parts):
            return "\(q(file)): the split limits give \(parts) parts, more than split.count (u16) can number; raise --split-max-size or --split-max-tensors"
        case let .arrayElementTypeMismatch(file, key):
            return "\(q(file)): key \(q(key)): array elements do not all have the declared element type"
        }
    }
}
