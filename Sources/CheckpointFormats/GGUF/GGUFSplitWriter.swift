import CheckpointCore

/// Writes a split GGUF set as gguf-py's `GGUFWriter(split_max_tensors:, split_max_size:)` does, which
/// llama.cpp loads and `llama-gguf-split --merge` joins:
/// - tensors stay in order; a new part starts when the current one already holds `maxTensors`
///   tensors, or when adding the next tensor's bytes (unpadded) would pass `maxSize`;
/// - parts are named `STEM-0000k-of-0000n.gguf` next to `destination`;
/// - the first part carries every key/value, then `split.no` (u16, 0-based), `split.count` (u16) and
///   `split.tensors.count` (i32); the other parts carry only those three keys (and
///   `general.alignment` when it is not the default, so that each part reads back on its own);
/// - when everything fits in one part, one plain file is written at `destination`.
/// Parts are committed together at `finish()`.
public final class GGUFSplitWriter: CheckpointWriter {
    public let writeOrder: [Int]
    private let parts: [GGUFWriter]
    private var current = 0

    public var outputPaths: [String] { parts.map(\.destination) }

    /// Tensor index ranges of each part under gguf-py's rule.
    public static func plan(_ tensors: [TensorInfo], maxSize: Int, maxTensors: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for (index, tensor) in tensors.enumerated() {
            let count = index - start
            if count > 0 && ((maxTensors > 0 && count >= maxTensors) || (maxSize > 0 && bytes + tensor.byteCount > maxSize)) {
                ranges.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += tensor.byteCount
        }
        ranges.append(start..<tensors.count)
        return ranges
    }

    public init(destination: String, metadata: GGUFMetadata, tensors: [TensorInfo], maxSize: Int, maxTensors: Int, overwrite: Bool) throws {
        let ranges = Self.plan(tensors, maxSize: maxSize, maxTensors: maxTensors)
        writeOrder = Array(tensors.indices)
        if ranges.count == 1 {
            parts = [try GGUFWriter(destination: destination, metadata: metadata, tensors: tensors, overwrite: overwrite)]
            return
        }
        guard ranges.count <= Int(UInt16.max), tensors.count <= Int(Int32.max) else {
            throw GGUFError.tooManySplitParts(file: destination, parts: ranges.count)
        }
        let stem = destination.hasSuffix(".gguf") ? String(destination.dropLast(5)) : destination
        let alignment = metadata[GGUFConstants.Key.alignment]
        var parts: [GGUFWriter] = []
        for (number, range) in ranges.enumerated() {
            var partMetadata = number == 0 ? metadata : GGUFMetadata(alignment.map { [GGUFKeyValue(GGUFConstants.Key.alignment, $0)] } ?? [])
            partMetadata.set(GGUFConstants.Key.splitNumber, .uint16(UInt16(number)))
            partMetadata.set(GGUFConstants.Key.splitCount, .uint16(UInt16(ranges.count)))
            partMetadata.set(GGUFConstants.Key.splitTensorCount, .int32(Int32(tensors.count)))
            let path = GGUFSplitReader.splitName(prefix: stem, part: number + 1, count: ranges.count)
            parts.append(try GGUFWriter(destination: path, metadata: partMetadata, tensors: Array(tensors[range]), overwrite: overwrite))
        }
        self.parts = parts
    }

    private func part() throws -> GGUFWriter {
        while current < parts.count - 1, try parts[current].isComplete() { current += 1 }
        return parts[current]
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !bytes.isEmpty else { return }
        try part().write(bytes)
    }

    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        guard count > 0 else { return }
        try part().copy(from: file, offset: offset, count: count)
    }

    public func finish() throws {
        for part in parts {
            guard try part.isComplete() else {
                throw WriterSequenceError(message: "\(part.destination): finished before every tensor was written")
            }
        }
        for part in parts { try part.finish() }
    }

    public func abort() { parts.forEach { $0.abort() } }
}
