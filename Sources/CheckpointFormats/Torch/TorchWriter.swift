import CheckpointCore

/// Writes a PyTorch checkpoint that `torch.load(path, weights_only=True)` loads as a dict of the
/// tensors in order, laid out byte for byte as `torch.save` writes that dict (formats.md §3.10):
/// `data.pkl`, `.format_version`, `.storage_alignment`, `byteorder`, one `data/<k>` record per tensor,
/// `version`, `.data/serialization_id`, all 64-byte aligned. Aliases (tied weights) become the same
/// tensor object under a second name, so their bytes are written once and torch restores the tie.
/// Only `.data/serialization_id` differs from torch's file: torch hashes with the C++ standard
/// library's `std::hash`, which is not portable; ckpt writes 40 digits of its own (torch only logs it).
public final class TorchWriter: CheckpointWriter {
    public let destination: String
    public let writeOrder: [Int]
    /// The archive folder inside the zip (torch uses the file name without its extension).
    public let folder: String
    private let tensors: [TensorInfo]
    private let zip: AlignedZipWriter
    private var position = 0
    private var writtenInTensor = 0
    private var recordOpen = false

    public var outputPaths: [String] { [destination] }

    public struct UnsupportedDType: Error, CustomStringConvertible {
        public let tensor: String
        public let dtype: DType
        public var description: String {
            "tensor '\(escapedForTerminal(tensor))' is \(dtype.userName), which PyTorch checkpoints cannot hold; cast it with --dtype or write safetensors"
        }
    }

    /// torch's folder name for a path: the file name without its last extension; `archive` when that
    /// is not ASCII (as torch does).
    public static func folderName(for path: String) -> String {
        let name = Paths.baseName(of: path)
        let stem = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? name
        return stem.isEmpty || !stem.unicodeScalars.allSatisfy(\.isASCII) ? "archive" : stem
    }

    /// Creates the output and writes every record before the tensor data. `aliases` name earlier
    /// tensors again (alias name, kept name); an alias whose kept tensor is absent is dropped.
    /// A `filter` (zstd) transforms the bytes on their way to the file.
    public convenience init(destination: String, tensors: [TensorInfo], aliases: [(name: String, target: String)] = [], folder: String? = nil, overwrite: Bool, filter: OutputFilter? = nil) throws {
        try self.init(destination: destination, tensors: tensors, aliases: aliases, folder: folder, overwrite: overwrite, zip64Threshold: Int(UInt32.max), filter: filter)
    }

    /// `zip64Threshold` below 4 GiB makes small records use zip64 fields (tests of that path).
    init(destination: String, tensors: [TensorInfo], aliases: [(name: String, target: String)], folder: String?, overwrite: Bool, zip64Threshold: Int, filter: OutputFilter? = nil) throws {
        var names = Set<[UInt8]>()
        for tensor in tensors {
            guard names.insert(Array(tensor.name.utf8)).inserted else { throw SafeTensorsError.duplicateName(file: destination, tensor: tensor.name) }
            guard TorchPickleWriter.canWrite(tensor.dtype) else { throw UnsupportedDType(tensor: tensor.name, dtype: tensor.dtype) }
        }
        self.destination = destination
        self.tensors = tensors
        self.writeOrder = Array(tensors.indices)
        let folder = folder ?? TorchWriter.folderName(for: destination)
        self.folder = folder
        var entries: [TorchPickleWriter.Entry] = []
        var aliasesOf: [[UInt8]: [String]] = [:]
        for alias in aliases where !names.contains(Array(alias.name.utf8)) {
            aliasesOf[Array(alias.target.utf8), default: []].append(alias.name)
        }
        for (index, tensor) in tensors.enumerated() {
            let tensorEntry = entries.count
            entries.append(.tensor(tensor, storageKey: String(index)))
            for alias in aliasesOf[Array(tensor.name.utf8)] ?? [] where names.insert(Array(alias.utf8)).inserted {
                entries.append(.alias(name: alias, of: tensorEntry))
            }
        }
        zip = AlignedZipWriter(output: try AtomicOutput(destination: destination, overwrite: overwrite, filter: filter))
        zip.zip64Threshold = zip64Threshold
        do {
            try zip.addRecord(name: folder + "/data.pkl", bytes: TorchPickleWriter.pickle(entries))
            try zip.addRecord(name: folder + "/.format_version", bytes: Array("1".utf8))
            try zip.addRecord(name: folder + "/.storage_alignment", bytes: Array("64".utf8))
            try zip.addRecord(name: folder + "/byteorder", bytes: Array("little".utf8))
        } catch {
            zip.abort()
            throw error
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try accept(bytes.count)
        guard bytes.count > 0 else { return }
        try zip.append(bytes)
        try closeIfComplete()
    }

    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        try accept(count)
        guard count > 0 else { return }
        try zip.append(from: file, offset: offset, count: count)
        try closeIfComplete()
    }

    public func finish() throws {
        try openEmptyRecords()
        guard position == tensors.count else {
            throw WriterSequenceError(message: "\(destination): finished after \(position) of \(tensors.count) tensors")
        }
        try zip.addRecord(name: folder + "/version", bytes: Array("3\n".utf8))
        try zip.addRecord(name: folder + "/.data/serialization_id", bytes: TorchWriter.serializationID(names: tensors.map(\.name), crcs: zip.crcs))
        try zip.finish()
    }

    public func abort() { zip.abort() }

    /// 40 digits: two 20-digit hashes (FNV-1a, 64-bit) of the record names and of their CRC-32s, the
    /// shape of torch's id; torch only logs it when loading.
    static func serializationID(names: [String], crcs: [UInt32]) -> [UInt8] {
        func fnv(_ bytes: [UInt8]) -> UInt64 {
            bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
        }
        func digits(_ value: UInt64) -> String {
            let text = String(value)
            return String(repeating: "0", count: 20 - text.count) + text
        }
        let nameHash = fnv(names.flatMap { Array($0.utf8) + [0] })
        var crcBytes: [UInt8] = []
        for crc in crcs { crcBytes.appendLE(crc) }
        return Array((digits(nameHash) + digits(fnv(crcBytes))).utf8)
    }

    private func accept(_ count: Int) throws {
        try openEmptyRecords()
        guard count > 0 else { return }
        guard position < tensors.count, count <= tensors[position].byteCount - writtenInTensor else {
            throw WriterSequenceError(message: "\(destination): more bytes than the tensors declared")
        }
        if !recordOpen {
            try zip.beginRecord(name: "\(folder)/data/\(position)", size: tensors[position].byteCount)
            recordOpen = true
        }
        writtenInTensor += count
    }

    private func closeIfComplete() throws {
        guard recordOpen, writtenInTensor == tensors[position].byteCount else { return }
        try zip.endRecord()
        recordOpen = false
        position += 1
        writtenInTensor = 0
    }

    /// Empty tensors get no bytes from the caller: write their empty records when reached.
    private func openEmptyRecords() throws {
        while position < tensors.count && tensors[position].byteCount == 0 && !recordOpen {
            try zip.addRecord(name: "\(folder)/data/\(position)", bytes: [])
            position += 1
        }
    }
}
