import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes a checkpoint as transformers' `save_pretrained` does with `max_shard_size`:
/// `prefix-0000k-of-0000n.safetensors` shards (each a reference-identical safetensors file) and
/// `prefix.safetensors.index.json` with `metadata.total_size`. When everything fits in one shard it
/// writes `prefix.safetensors` and no index, as they do.
///
/// Every file is written to a temporary name; shards are renamed into place first and the index
/// last, so a reader never sees an index naming a missing shard. Shards of an earlier save in the
/// same folder that the new index does not name are then removed (they would make the folder
/// ambiguous).
public final class ShardedSafeTensorsWriter: CheckpointWriter {
    public let folder: String
    public let indexName: String
    public let writeOrder: [Int]
    private let shardWriters: [any CheckpointWriter]
    private let shardFiles: [String]
    private let shardTensorCounts: [Int]
    private let weightMap: [(tensor: String, shard: String)]
    private let totalSize: Int
    private let overwrite: Bool
    private var current = 0
    private var tensorsDoneInShard = 0
    private var remainingInTensor: Int

    public var outputPaths: [String] {
        shardFiles.map { Paths.join(folder, $0) } + (shardFiles.count > 1 ? [Paths.join(folder, indexName)] : [])
    }

    public init(folder: String, prefix: String = "model", metadata: [(key: String, value: String)]?, tensors: [TensorInfo], maxShardSize: Int, overwrite: Bool, shardFormat: ShardFileFormat = .safetensors) throws {
        let groups = ShardPlan.groups(byteCounts: tensors.map(\.byteCount), maxShardSize: maxShardSize)
        let fileExtension = shardFormat.fileExtension
        let names = groups.count <= 1
            ? ["\(prefix).\(fileExtension)"]
            : groups.indices.map { ShardNaming.shardName(prefix: prefix, number: $0 + 1, of: groups.count, fileExtension: fileExtension) }
        self.folder = folder
        self.indexName = "\(prefix).\(fileExtension).index.json"
        self.overwrite = overwrite
        if groups.count > 1, !overwrite {
            let indexPath = Paths.join(folder, indexName)
            var info = stat()
            if lstat(indexPath, &info) == 0 { throw FileError(path: indexPath, operation: "create", errno: EEXIST) }
        }
        var writers: [any CheckpointWriter] = []
        var order: [Int] = []
        var map: [(String, String)] = []
        do {
            for (number, group) in (groups.isEmpty ? [[]] : groups).enumerated() {
                let members = group.map { tensors[$0] }
                let writer = try shardFormat.makeWriter(Paths.join(folder, names[number]), metadata, members, overwrite)
                writers.append(writer)
                order += writer.writeOrder.map { group[$0] }
                map += members.map { ($0.name, names[number]) }
            }
        } catch {
            writers.forEach { $0.abort() }
            throw error
        }
        self.shardWriters = writers
        self.shardFiles = names
        self.shardTensorCounts = writers.map(\.writeOrder.count)
        self.writeOrder = order
        self.weightMap = map
        self.totalSize = tensors.reduce(0) { $0 + $1.byteCount }
        self.remainingInTensor = order.first.map { tensors[$0].byteCount } ?? 0
        self.tensorSizes = order.map { tensors[$0].byteCount }
    }

    private let tensorSizes: [Int]
    private var position = 0

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try route(bytes.count)
        try shardWriters[current].write(bytes)
        advance(bytes.count)
    }

    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        try route(count)
        try shardWriters[current].copy(from: file, offset: offset, count: count)
        advance(count)
    }

    /// Moves to the shard that holds the next incomplete tensor.
    private func route(_ count: Int) throws {
        skipEmpty()
        guard count > 0 else { return }
        guard position < tensorSizes.count, count <= remainingInTensor else {
            throw WriterSequenceError(message: "\(folder): more bytes than the tensors declared")
        }
    }

    private func advance(_ count: Int) {
        guard count > 0 else { return }
        remainingInTensor -= count
        if remainingInTensor == 0 { nextTensor() }
    }

    private func skipEmpty() {
        while position < tensorSizes.count && remainingInTensor == 0 { nextTensor() }
    }

    private func nextTensor() {
        position += 1
        tensorsDoneInShard += 1
        while current < shardTensorCounts.count - 1 && tensorsDoneInShard >= shardTensorCounts[current] {
            current += 1
            tensorsDoneInShard = 0
        }
        remainingInTensor = position < tensorSizes.count ? tensorSizes[position] : 0
    }

    public func finish() throws {
        skipEmpty()
        for writer in shardWriters { try writer.finish() }
        guard shardFiles.count > 1 else { return }
        let index = try AtomicOutput(destination: Paths.join(folder, indexName), overwrite: overwrite)
        try index.write(ShardIndex.text(totalSize: totalSize, weightMap: weightMap))
        try index.commit()
        let current = Set(shardFiles.map { Array($0.utf8) })
        for name in FolderListing.names(in: folder) where ShardNaming.isShardFile(name, ofIndex: indexName) {
            if !current.contains(Array(name.utf8)) { unlink(Paths.join(folder, name)) }
        }
    }

    public func abort() {
        shardWriters.forEach { $0.abort() }
    }
}

/// The file format of each shard of a sharded set: its extension and how to create one shard.
public struct ShardFileFormat {
    public var fileExtension: String
    public var makeWriter: (_ path: String, _ metadata: [(key: String, value: String)]?, _ tensors: [TensorInfo], _ overwrite: Bool) throws -> any CheckpointWriter

    public static var safetensors: ShardFileFormat {
        ShardFileFormat(fileExtension: "safetensors") { path, metadata, tensors, overwrite in
            try SafeTensorsWriter(destination: path, metadata: metadata, tensors: tensors, overwrite: overwrite)
        }
    }

    /// PyTorch shards (`.bin`, as transformers names them); an alias goes to the shard of its kept tensor.
    public static func torch(aliases: [(name: String, target: String)]) -> ShardFileFormat {
        ShardFileFormat(fileExtension: "bin") { path, _, tensors, overwrite in
            try TorchWriter(destination: path, tensors: tensors, aliases: aliases, overwrite: overwrite)
        }
    }
}
