import CheckpointCore

/// A file opened for reading whose mapping is made on first data access: what every single-file
/// reader needs to hand out tensor bytes (zero copy) and bracket streaming reads.
final class LazyMappedFile: @unchecked Sendable {
    let file: ReadOnlyFile
    private var mapping: MappedFile?
    private let lock = Mutex()

    init(_ file: ReadOnlyFile) { self.file = file }

    func data(_ location: TensorLocation) throws -> TensorData {
        let mapped = try mapped()
        return TensorData(borrowing: try mapped.bytes(at: location.offset, count: location.count), from: mapped)
    }

    func source(_ location: TensorLocation) -> (file: ReadOnlyFile, offset: Int, count: Int) {
        (file, location.offset, location.count)
    }

    func willRead(_ location: TensorLocation) {
        (try? mapped())?.adviseSequential(offset: location.offset, count: location.count)
    }

    func didRead(_ location: TensorLocation) {
        (try? mapped())?.release(offset: location.offset, count: location.count)
    }

    private func mapped() throws -> MappedFile {
        try lock.locked { () throws -> MappedFile in
            if let mapping { return mapping }
            let made = try file.map()
            mapping = made
            return made
        }
    }
}
