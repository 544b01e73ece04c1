import CheckpointCore

/// A GGUF file opened for reading: the header is parsed and validated at open with positioned reads;
/// tensor bytes are zero-copy ranges of a read-only mapping made on first use.
public final class GGUFReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let header: GGUFHeader
    public let file: ReadOnlyFile
    public let tensors: [TensorInfo]
    private let access: LazyMappedFile

    public init(path: String) throws {
        let file = try ReadOnlyFile(path: path)
        self.path = path
        self.file = file
        self.access = LazyMappedFile(file)
        self.header = try GGUFHeader.read(from: file)
        self.tensors = header.tensors.map(\.info)
    }

    public var format: CheckpointFormat { .gguf }

    public var metadata: CheckpointMetadata { CheckpointMetadata(gguf: header.metadata) }

    public func location(of index: Int) -> TensorLocation {
        TensorLocation(file: path, offset: header.dataStart + header.tensors[index].offset, count: tensors[index].byteCount)
    }

    public func data(at index: Int) throws -> TensorData { try access.data(location(of: index)) }

    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? { access.source(location(of: index)) }

    public func willRead(_ index: Int) { access.willRead(location(of: index)) }

    public func didRead(_ index: Int) { access.didRead(location(of: index)) }
}
