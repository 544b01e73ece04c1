import CheckpointCore

/// Every way a safetensors file (or a sharded folder) can be wrong, each with the file and, where it
/// applies, the tensor and byte offset. The order of checks follows the reference Rust reader.
public enum SafeTensorsError: Error, Sendable, Equatable, CustomStringConvertible {
    case headerTooSmall(file: String, size: Int)
    case headerTooLarge(file: String, length: UInt64)
    case invalidHeaderLength(file: String, length: UInt64, fileSize: Int)
    case headerNotUTF8(file: String, offset: Int)
    case invalidJSON(file: String, offset: Int, reason: String)
    case headerNotObject(file: String, found: String)
    case invalidTensorEntry(file: String, tensor: String, reason: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case invalidMetadata(file: String, key: String?, reason: String)
    case duplicateName(file: String, tensor: String)
    case invalidOffset(file: String, tensor: String, begin: Int, end: Int, expected: Int)
    case shapeOverflow(file: String, tensor: String, shape: [Int], dtype: String)
    case misalignedSubByte(file: String, tensor: String, elements: Int, dtype: String)
    case sizeMismatch(file: String, tensor: String, bytes: Int, expected: Int)
    case dataTruncated(file: String, tensor: String, needed: Int, fileSize: Int)
    case trailingBytes(file: String, end: Int, fileSize: Int)
    case notSafetensors(file: String, detected: DetectedFormat)
    case headerWouldBeTooLarge(file: String, length: Int)
    // Sharded folders.
    case invalidIndex(file: String, reason: String)
    case shardMissing(index: String, shard: String)
    case tensorNotInShard(index: String, tensor: String, shard: String)
    case tensorNotInIndex(index: String, tensor: String, shard: String)
    case duplicateAcrossShards(index: String, tensor: String, shards: [String])

    /// The case name, stable for tests and `--json` output.
    public var caseName: String {
        switch self {
        case .headerTooSmall: return "headerTooSmall"
        case .headerTooLarge: return "headerTooLarge"
        case .invalidHeaderLength: return "invalidHeaderLength"
        case .headerNotUTF8: return "headerNotUTF8"
        case .invalidJSON: return "invalidJSON"
        case .headerNotObject: return "headerNotObject"
        case .invalidTensorEntry: return "invalidTensorEntry"
        case .unknownDType: return "unknownDType"
        case .invalidMetadata: return "invalidMetadata"
        case .duplicateName, .duplicateAcrossShards: return "duplicateName"
        case .invalidOffset: return "invalidOffset"
        case .shapeOverflow: return "shapeOverflow"
        case .misalignedSubByte: return "misalignedSubByte"
        case .sizeMismatch: return "sizeMismatch"
        case .dataTruncated: return "dataTruncated"
        case .trailingBytes: return "trailingBytes"
        case .notSafetensors: return "notSafetensors"
        case .headerWouldBeTooLarge: return "headerTooLarge"
        case .invalidIndex: return "invalidIndex"
        case .shardMissing: return "shardMissing"
        case .tensorNotInShard: return "tensorNotInShard"
        case .tensorNotInIndex: return "tensorNotInIndex"
        }
    }

    public var description: String {
        func q(_ s: String) -> String { "'" + escapedForTerminal(s) + "'" }
        switch self {
        case let .headerTooSmall(file, size):
            return "\(q(file)): \(size) bytes is too short for a safetensors file (the 8-byte header length is missing); the file is truncated"
        case let .headerTooLarge(file, length):
            return "\(q(file)): header length \(length) at offset 0 exceeds the 100,000,000-byte limit of safetensors; the file is corrupt or not safetensors"
        case let .invalidHeaderLength(file, length, fileSize):
            return "\(q(file)): header length \(length) at offset 0 runs past the end of the file (\(fileSize) bytes); the file is truncated"
        case let .headerNotUTF8(file, offset):
            return "\(q(file)): the JSON header is not valid UTF-8 (byte \(offset) of the file)"
        case let .invalidJSON(file, offset, reason):
            return "\(q(file)): invalid JSON in header: \(reason) (byte \(offset) of the file)"
        case let .headerNotObject(file, found):
            return "\(q(file)): the header must be a JSON object, found \(found)"
        case let .invalidTensorEntry(file, tensor, reason):
            return "\(q(file)): tensor \(q(tensor)): \(reason)"
        case let .unknownDType(file, tensor, dtype):
            return "\(q(file)): tensor \(q(tensor)) has unknown dtype \(q(dtype)); known: \(SafeTensorsDType.allNames.joined(separator: ", "))"
        case let .invalidMetadata(file, key, reason):
            let which = key.map { " key \(q($0))" } ?? ""
            return "\(q(file)): __metadata__\(which): \(reason); safetensors metadata maps strings to strings"
        case let .duplicateName(file, tensor):
            return "\(q(file)): duplicate tensor name in header: \(q(tensor)); such a file cannot round-trip (the reference reader silently keeps the last)"
        case let .invalidOffset(file, tensor, begin, end, expected):
            let problem = begin > expected ? "leaves a hole (previous data ends at \(expected))"
                : begin < expected ? "overlaps the previous tensor (which ends at \(expected))"
                : "ends before it begins"
            return "\(q(file)): invalid offset for tensor \(q(tensor)): data_offsets [\(begin), \(end)] \(problem)"
        case let .shapeOverflow(file, tensor, shape, dtype):
            return "\(q(file)): tensor \(q(tensor)): shape \(shape) of \(dtype) overflows the byte count"
        case let .misalignedSubByte(file, tensor, elements, dtype):
            return "\(q(file)): tensor \(q(tensor)): \(elements) elements of \(dtype) do not fill whole bytes"
        case let .sizeMismatch(file, tensor, bytes, expected):
            return "\(q(file)): tensor \(q(tensor)): data_offsets span \(bytes) bytes but shape and dtype need \(expected)"
        case let .dataTruncated(file, tensor, needed, fileSize):
            return "\(q(file)): truncated: tensor \(q(tensor)) ends at byte \(needed) but the file has \(fileSize) bytes; download it again"
        case let .trailingBytes(file, end, fileSize):
            return "\(q(file)): \(fileSize - end) unexpected bytes after the last tensor (data ends at byte \(end), file has \(fileSize)); the file is not fully covered by its header"
        case let .notSafetensors(file, detected):
            return "\(q(file)) is not a safetensors file: it is \(detected)"
        case let .headerWouldBeTooLarge(file, length):
            return "\(q(file)): the header would be \(length) bytes, over the 100,000,000-byte limit; split the tensors with --shard-size"
        case let .invalidIndex(file, reason):
            return "\(q(file)): invalid shard index: \(reason)"
        case let .shardMissing(index, shard):
            return "\(q(index)) names shard \(q(shard)), which does not exist; download the missing shard"
        case let .tensorNotInShard(index, tensor, shard):
            return "\(q(index)) maps tensor \(q(tensor)) to \(q(shard)), which does not contain it"
        case let .tensorNotInIndex(index, tensor, shard):
            return "shard \(q(shard)) holds tensor \(q(tensor)), which \(q(index)) does not list"
        case let .duplicateAcrossShards(index, tensor, shards):
            return "\(q(index)): tensor \(q(tensor)) is stored in more than one shard: \(shards.map(q).joined(separator: ", "))"
        }
    }
}
