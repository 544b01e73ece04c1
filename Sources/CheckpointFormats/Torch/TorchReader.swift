import CheckpointCore

/// How to open a PyTorch checkpoint.
public struct TorchReadOptions: Sendable {
    /// Dotted path of the state dict inside the file (`--key`); nil chooses by `TorchStateDict`'s rules.
    public var key: String?
    /// Check every record's CRC-32 at open (`--verify`); deflated records are always checked.
    public var verify = false
    public var limits = PickleLimits()

    public init(key: String? = nil, verify: Bool = false) {
        self.key = key
        self.verify = verify
    }
}

/// A `torch.save` checkpoint (zip, torch ≥ 1.6) open for reading.
///
/// At open the zip is validated, `data.pkl` is run through the pickle machine (which constructs
/// nothing but data), every storage record is matched to the size the pickle declares, and the state
/// dict is chosen and flattened. Tensors that are the same view of the same storage as an earlier one
/// (tied weights) are listed once, the others becoming `metadata.aliases`. Contiguous tensors of stored
/// records are zero-copy ranges of the file; strided, deflated or big-endian ones are materialised on
/// demand.
public final class TorchReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let archive: TorchArchive
    public let stateDict: TorchStateDict
    public let tensors: [TensorInfo]
    /// The torch view behind each entry of `tensors`.
    public let views: [TorchTensor]
    public let metadata: CheckpointMetadata

    public var format: CheckpointFormat { .torch }

    public convenience init(path: String, options: TorchReadOptions = TorchReadOptions()) throws {
        let file = try ReadOnlyFile(path: path)
        let detected = DetectedFormat.sniff(try file.read(at: 0, count: min(file.size, 512)))
        switch detected {
        case .zip: break
        case .legacyTorch: throw TorchError.legacyFormat(file: path)
        default: throw TorchError.notZip(file: path, detected: detected)
        }
        try self.init(zip: try ZipArchive(file: file), options: options)
    }

    public init(zip: ZipArchive, options: TorchReadOptions) throws {
        let path = zip.path
        self.path = path
        archive = try TorchArchive(zip: zip, verify: options.verify, limits: options.limits)
        do {
            stateDict = try TorchStateDict.select(from: archive.root, key: options.key, file: path)
        } catch let error as PickleError {
            throw TorchError.pickle(file: path, error: error)
        }
        var tensors: [TensorInfo] = []
        var views: [TorchTensor] = []
        var aliases: [(name: String, target: String)] = []
        var shared: [(name: String, with: String)] = []
        var firstOfStorage: [String: String] = [:]
        for entry in stateDict.entries {
            if let kept = views.indices.first(where: { views[$0].isSameView(as: entry.tensor) }) {
                aliases.append((entry.name, tensors[kept].name))
                continue
            }
            if let other = firstOfStorage[entry.tensor.storage.key] {
                shared.append((entry.name, other))
            } else {
                firstOfStorage[entry.tensor.storage.key] = entry.name
            }
            do {
                tensors.append(try TensorInfo(name: entry.name, dtype: entry.tensor.dtype, shape: entry.tensor.shape))
            } catch {
                throw TorchError.tensorShape(file: path, error: error)
            }
            views.append(entry.tensor)
        }
        self.tensors = tensors
        self.views = views
        var metadata = CheckpointMetadata()
        metadata.aliases = aliases
        metadata.torch = TorchFileInfo(
            folder: archive.folder, version: archive.version, bigEndian: archive.bigEndian, pickleProtocol: archive.pickleProtocol,
            stateDictKey: stateDict.key, otherContent: stateDict.otherContent, sharedStorage: shared, storageCount: archive.storages.count)
        self.metadata = metadata
    }

    private func entry(_ index: Int) -> ZipEntry? { archive.storageEntries[views[index].storage.key] }

    /// Whether tensor `index` is one byte range of a stored record in the file's byte order.
    public func isZeroCopy(_ index: Int) -> Bool {
        guard let entry = entry(index) else { return false }
        return entry.isStored && !archive.bigEndian && views[index].isContiguous
    }

    public func location(of index: Int) -> TensorLocation {
        guard let entry = entry(index) else { return TensorLocation(file: path, offset: 0, count: 0) }
        if isZeroCopy(index) {
            return TensorLocation(file: path, offset: entry.dataOffset + views[index].byteOffset, count: tensors[index].byteCount)
        }
        return TensorLocation(file: path, offset: entry.dataOffset, count: entry.compressedSize)
    }

    public func data(at index: Int) throws -> TensorData {
        guard let entry = entry(index) else { throw TorchError.missingStorage(file: path, key: views[index].storage.key) }
        if isZeroCopy(index) {
            let mapped = try archive.zip.mapped()
            let location = location(of: index)
            return TensorData(borrowing: try mapped.bytes(at: location.offset, count: location.count), from: mapped)
        }
        let storage = try archive.zip.contents(of: entry)
        return TensorData(owning: storage.withBytes {
            StridedCopy.gather(views[index], from: $0, byteCount: tensors[index].byteCount, swapBytes: archive.bigEndian)
        })
    }

    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? {
        guard isZeroCopy(index) else { return nil }
        let location = location(of: index)
        return (archive.zip.file, location.offset, location.count)
    }

    public func willRead(_ index: Int) {
        let location = location(of: index)
        (try? archive.zip.mapped())?.adviseSequential(offset: location.offset, count: location.count)
    }

    public func didRead(_ index: Int) {
        let location = location(of: index)
        (try? archive.zip.mapped())?.release(offset: location.offset, count: location.count)
    }
}

/// Copying a strided view of a storage into a dense C-order buffer (views were bounds-checked by the
/// pickle machine against the storage size, which the reader matched to the record).
enum StridedCopy {
    static func gather(_ view: TorchTensor, from storage: UnsafeRawBufferPointer, byteCount: Int, swapBytes: Bool) -> OwnedBytes {
        let output = OwnedBytes(count: byteCount)
        let width = view.dtype.bits / 8
        let count = byteCount / max(width, 1)
        guard count > 0, let source = storage.baseAddress, let target = output.bytes.baseAddress else { return output }
        let rank = view.shape.count
        var index = [Int](repeating: 0, count: rank)
        var element = view.storageOffset
        let innerSize = rank > 0 ? view.shape[rank - 1] : 1
        let innerStride = rank > 0 ? view.stride[rank - 1] : 0
        var written = 0
        while written < count {
            // One innermost row at a time: a single copy when its elements are adjacent.
            if innerStride == 1 {
                (target + written * width).copyMemory(from: source + element * width, byteCount: innerSize * width)
            } else {
                for step in 0..<innerSize {
                    (target + (written + step) * width).copyMemory(from: source + (element + step * innerStride) * width, byteCount: width)
                }
            }
            written += innerSize
            // Advance the outer indices like an odometer.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                element += view.stride[axis]
                if index[axis] < view.shape[axis] { break }
                element -= view.stride[axis] * view.shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        if swapBytes && width > 1 {
            let bytes = output.bytes
            let elementWidth = view.dtype == .c64 ? 4 : width
            var start = 0
            while start + elementWidth <= bytes.count {
                var low = start, high = start + elementWidth - 1
                while low < high { bytes.swapAt(low, high); low += 1; high -= 1 }
                start += elementWidth
            }
        }
        return output
    }
}
