import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// A sharded PyTorch checkpoint (`pytorch_model-0000k-of-0000n.bin` + `pytorch_model.bin.index.json`,
/// as transformers' `save_pretrained(safe_serialization=False)` writes it) read as one.
///
/// Validated like the safetensors set: every shard the index names exists; each tensor sits in the
/// shard the index gives and in no other; shards are read with the same options (`--key`, `--verify`).
public final class ShardedTorchReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let indexPath: String
    public let index: ShardIndex
    public let shards: [TorchReader]
    public let tensors: [TensorInfo]
    public let metadata: CheckpointMetadata
    private let owners: [(shard: Int, index: Int)]

    public var format: CheckpointFormat { .shardedTorch }

    /// `pytorch_model.bin.index.json` in `folder`, else its only `*.bin.index.json`.
    public static func indexPath(inFolder folder: String) -> String? {
        let preferred = folder + "/pytorch_model.bin.index.json"
        if access(preferred, F_OK) == 0 { return preferred }
        let candidates = FolderListing.names(in: folder).filter { $0.hasSuffix(".bin.index.json") || $0.hasSuffix(".pt.index.json") }
        return candidates.count == 1 ? folder + "/" + candidates[0] : nil
    }

    public init(path: String, options: TorchReadOptions = TorchReadOptions()) throws {
        let indexPath: String
        if path.hasSuffix(".index.json") {
            indexPath = path
        } else if let found = ShardedTorchReader.indexPath(inFolder: path) {
            indexPath = found
        } else {
            throw SafeTensorsError.invalidIndex(file: path, reason: "no pytorch_model.bin.index.json in this folder")
        }
        self.path = path
        self.indexPath = indexPath
        let index = try ShardIndex.read(path: indexPath)
        self.index = index
        let folder = Paths.folder(of: indexPath)
        var shards: [TorchReader] = []
        for name in index.shardNames {
            let shardPath = Paths.join(folder, name)
            guard access(shardPath, F_OK) == 0 else { throw SafeTensorsError.shardMissing(index: indexPath, shard: name) }
            shards.append(try TorchReader(path: shardPath, options: options))
        }
        var expected: [[UInt8]: String] = [:]
        for entry in index.weightMap { expected[Array(entry.tensor.utf8)] = entry.shard }
        var foundIn: [[UInt8]: String] = [:]
        var tensors: [TensorInfo] = []
        var owners: [(Int, Int)] = []
        var metadata = CheckpointMetadata(index: index.metadata)
        for (number, shard) in shards.enumerated() {
            let shardName = index.shardNames[number]
            for name in shard.tensors.map(\.name) {
                let key = Array(name.utf8)
                if let other = foundIn[key] {
                    throw SafeTensorsError.duplicateAcrossShards(index: indexPath, tensor: name, shards: [other, shardName])
                }
                guard let listed = expected[key], listed.utf8.elementsEqual(shardName.utf8) else {
                    throw SafeTensorsError.tensorNotInIndex(index: indexPath, tensor: name, shard: shardName)
                }
                foundIn[key] = shardName
            }
            for (position, tensor) in shard.tensors.enumerated() {
                tensors.append(tensor)
                owners.append((number, position))
            }
            metadata.aliases += shard.metadata.aliases
            for alias in shard.metadata.aliases { foundIn[Array(alias.name.utf8)] = shardName }
        }
        for entry in index.weightMap where foundIn[Array(entry.tensor.utf8)] == nil {
            throw SafeTensorsError.tensorNotInShard(index: indexPath, tensor: entry.tensor, shard: entry.shard)
        }
        metadata.torch = shards.first?.metadata.torch
        self.metadata = metadata
        self.shards = shards
        self.tensors = tensors
        self.owners = owners
    }

    public func location(of index: Int) -> TensorLocation { shards[owners[index].shard].location(of: owners[index].index) }
    public func data(at index: Int) throws -> TensorData { try shards[owners[index].shard].data(at: owners[index].index) }
    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? { shards[owners[index].shard].source(of: owners[index].index) }
    public func willRead(_ index: Int) { shards[owners[index].shard].willRead(owners[index].index) }
    public func didRead(_ index: Int) { shards[owners[index].shard].didRead(owners[index].index) }
}
