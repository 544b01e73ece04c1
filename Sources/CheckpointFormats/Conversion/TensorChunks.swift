import CheckpointCore

/// Byte ranges of one tensor for chunked conversion: read with `pread(2)` into a reused buffer when the
/// reader exposes the file (cheaper than faulting in mapped pages), else borrowed from its mapping.
struct TensorChunks {
    private let source: (file: ReadOnlyFile, offset: Int, count: Int)?
    private let mapped: TensorData?

    init(reader: any CheckpointReader, index: Int) throws {
        source = reader.source(of: index)
        mapped = source == nil ? try reader.data(at: index) : nil
    }

    /// `count` bytes at `offset` within the tensor (`buffer` holds at least `count` bytes).
    func bytes(at offset: Int, count: Int, buffer: OwnedBytes) throws -> UnsafeRawBufferPointer {
        if let source {
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<count])
            try source.file.read(into: target, at: source.offset + offset)
            return UnsafeRawBufferPointer(target)
        }
        guard let mapped else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(rebasing: mapped.bytes[offset..<(offset + count)])
    }
}
