import CheckpointCore

/// A safetensors file opened for reading: the header is parsed and validated at open (only the header
/// bytes are read); tensor bytes are zero-copy ranges of a read-only mapping made on first use.
public final class SafeTensorsReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let header: SafeTensorsHeader
    public let file: ReadOnlyFile
    public let tensors: [TensorInfo]
    private let access: LazyMappedFile

    public init(path: String) throws {
        let file = try ReadOnlyFile(path: path)
        self.path = path
        self.file = file
        self.access = LazyMappedFile(file)
        self.header = try SafeTensorsHeader.read(from: file)
        self.tensors = header.entries.map(\.info)
    }

    public var format: CheckpointFormat { .safetensors }

    public var metadata: CheckpointMetadata {
        CheckpointMetadata(safetensors: header.metadata)
    }

    public func location(of index: Int) -> TensorLocation {
        let entry = header.entries[index]
        return TensorLocation(file: path, offset: header.dataStart + entry.begin, count: entry.end - entry.begin)
    }

    public func data(at index: Int) throws -> TensorData { try access.data(location(of: index)) }

    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? { access.source(location(of: index)) }

    public func willRead(_ index: Int) { access.willRead(location(of: index)) }

    public func didRead(_ index: Int) { access.didRead(location(of: index)) }
}
