import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// A split GGUF set (`NAME-00001-of-00003.gguf` …) read as one checkpoint: the parts' tensors in
/// part order, the metadata of the first part (which carries the model's keys).
///
/// Checks what llama.cpp's loader checks: every part present, `split.no` (u16, 0-based) equal to the
/// part's position, the same `split.count` (u16) everywhere, `split.tensors.count` (i32) equal to the
/// tensors found, no tensor in two parts.
public final class GGUFSplitReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let parts: [GGUFReader]
    public let tensors: [TensorInfo]
    /// (part, index in part) of each tensor.
    private let positions: [(part: Int, index: Int)]

    /// The set's name pattern: `PREFIX-%05d-of-%05d.gguf` (llama.cpp's `llama_split_path`).
    public static func splitName(prefix: String, part: Int, count: Int) -> String {
        ShardNaming.shardName(prefix: prefix, number: part, of: count, fileExtension: "gguf")
    }

    /// (prefix, part, count) when `path` is named like a part of a split set.
    public static func parseSplitName(_ path: String) -> (prefix: String, part: Int, count: Int)? {
        guard path.hasSuffix(".gguf") else { return nil }
        let stem = Array(path.dropLast(5).utf8)
        // "-NNNNN-of-NNNNN" is 15 bytes.
        guard stem.count > 15 else { return nil }
        let tail = Array(stem[(stem.count - 15)...])
        let digits = { (range: Range<Int>) -> Int? in
            let slice = tail[range]
            guard slice.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return Int(String(decoding: slice, as: UTF8.self))
        }
        guard tail[0] == 0x2D, Array(tail[6..<10]) == Array("-of-".utf8),
              let part = digits(1..<6), let count = digits(10..<15), part >= 1, count >= 1 else { return nil }
        return (String(decoding: stem[0..<(stem.count - 15)], as: UTF8.self), part, count)
    }

    /// Whether the first part of a file says it belongs to a set of more than one.
    static func isSplit(_ reader: GGUFReader) -> Bool {
        (reader.header.metadata[GGUFConstants.Key.splitCount]?.integer ?? 1) > 1
    }

    /// Opens the whole set that `path` (any part) belongs to.
    public init(path: String, opened: GGUFReader? = nil) throws {
        guard let (prefix, _, count) = Self.parseSplitName(path) else {
            throw GGUFError.splitPartMissing(file: path, part: 2, count: (opened?.header.metadata[GGUFConstants.Key.splitCount]?.integer) ?? 2)
        }
        var parts: [GGUFReader] = []
        var tensors: [TensorInfo] = []
        var positions: [(Int, Int)] = []
        var owner: [[UInt8]: String] = [:]
        for number in 1...count {
            let partPath = Self.splitName(prefix: prefix, part: number, count: count)
            guard access(partPath, F_OK) == 0 else { throw GGUFError.splitPartMissing(file: partPath, part: number, count: count) }
            let part = try (opened?.path == partPath ? opened : nil) ?? GGUFReader(path: partPath)
            let metadata = part.header.metadata
            guard let numberValue = metadata[GGUFConstants.Key.splitNumber] else {
                throw GGUFError.splitKeyMissing(file: partPath, key: GGUFConstants.Key.splitNumber)
            }
            guard case let .uint16(index) = numberValue else {
                throw GGUFError.splitKeyType(file: partPath, key: GGUFConstants.Key.splitNumber, expected: "UINT16", found: numberValue.type.name)
            }
            guard Int(index) == number - 1 else { throw GGUFError.splitIndexMismatch(file: partPath, found: Int(index), expected: number - 1) }
            guard let countValue = metadata[GGUFConstants.Key.splitCount] else {
                throw GGUFError.splitKeyMissing(file: partPath, key: GGUFConstants.Key.splitCount)
            }
            guard case let .uint16(declared) = countValue else {
                throw GGUFError.splitKeyType(file: partPath, key: GGUFConstants.Key.splitCount, expected: "UINT16", found: countValue.type.name)
            }
            guard Int(declared) == count else { throw GGUFError.splitCountMismatch(file: partPath, found: Int(declared), expected: count) }
            for (index, tensor) in part.tensors.enumerated() {
                let key = Array(tensor.name.utf8)
                if let other = owner[key] { throw GGUFError.duplicateTensorAcrossSplits(file: partPath, tensor: tensor.name, other: other) }
                owner[key] = partPath
                tensors.append(tensor)
                positions.append((number - 1, index))
            }
            parts.append(part)
        }
        let first = parts[0]
        guard let totalValue = first.header.metadata[GGUFConstants.Key.splitTensorCount] else {
            throw GGUFError.splitKeyMissing(file: first.path, key: GGUFConstants.Key.splitTensorCount)
        }
        guard case let .int32(total) = totalValue else {
            throw GGUFError.splitKeyType(file: first.path, key: GGUFConstants.Key.splitTensorCount, expected: "INT32", found: totalValue.type.name)
        }
        guard Int(total) == tensors.count else {
            throw GGUFError.splitTensorCountMismatch(file: first.path, declared: Int(total), found: tensors.count)
        }
        self.path = first.path
        self.parts = parts
        self.tensors = tensors
        self.positions = positions
    }

    public var format: CheckpointFormat { .splitGGUF }
    public var metadata: CheckpointMetadata { parts[0].metadata }

    public func location(of index: Int) -> TensorLocation {
        let (part, inner) = positions[index]
        return parts[part].location(of: inner)
    }

    public func data(at index: Int) throws -> TensorData {
        let (part, inner) = positions[index]
        return try parts[part].data(at: inner)
    }

    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? {
        let (part, inner) = positions[index]
        return parts[part].source(of: inner)
    }

    public func willRead(_ index: Int) {
        let (part, inner) = positions[index]
        parts[part].willRead(inner)
    }

    public func didRead(_ index: Int) {
        let (part, inner) = positions[index]
        parts[part].didRead(inner)
    }
}
