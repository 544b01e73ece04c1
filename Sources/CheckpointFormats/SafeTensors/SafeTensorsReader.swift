import CheckpointCore

/// A safetensors file opened for reading: the header is parsed and validated at open (only the header
/// bytes are read); tensor bytes are zero-copy ranges of a read-only mapping made on first use.
public final class SafeTensorsReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let header: SafeTensorsHeader
    public let file: ReadOnlyFile
    public let tensors: [TensorInfo]
    private var mapping: MappedFile?
    private let mappingLock = Mutex()

    public init(path: String) throws {
        let file = try ReadOnlyFile(path: path)
        self.path = path
        self.file = file
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

    public func data(at index: Int) throws -> TensorData {
        let location = location(of: index)
        let mapped = try mapped()
        return TensorData(borrowing: try mapped.bytes(at: location.offset, count: location.count), from: mapped)
    }

    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? {
        let location = location(of: index)
        return (file, location.offset, location.count)
    }

    public func willRead(_ index: Int) {
        let location = location(of: index)
        (try? mapped())?.adviseSequential(offset: location.offset, count: location.count)
    }

    public func didRead(_ index: Int) {
        let location = location(of: index)
        (try? mapped())?.release(offset: location.offset, count: location.count)
    }

    private func mapped() throws -> MappedFile {
        try mappingLock.locked { () throws -> MappedFile in
            if let mapping { return mapping }
            let made = try file.map()
            mapping = made
            return made
        }
    }
}
