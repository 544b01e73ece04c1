import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// A sharded safetensors checkpoint (a folder with `*.safetensors.index.json`) read as one.
///
/// At open every shard's header is validated and checked against the index: a shard the index names
/// must exist; every tensor must sit in exactly the shard the index says; a shard file with the set's
/// naming that the index does not name is an error (a stale shard from an earlier save). A
/// `total_size` that disagrees with the tensors is reported as a warning.
public final class ShardedSafeTensorsReader: CheckpointReader, @unchecked Sendable {
    public let path: String
    public let indexPath: String
    public let index: ShardIndex
    public let shards: [SafeTensorsReader]
    public let tensors: [TensorInfo]
    public private(set) var warnings: [String] = []
    private let owners: [(shard: Int, index: Int)]

    public var format: CheckpointFormat { .shardedSafetensors }

    /// Finds the index in `folder`: `model.safetensors.index.json`, else the only `*.safetensors.index.json`.
    public static func indexPath(inFolder folder: String) -> String? {
        let preferred = folder + "/model.safetensors.index.json"
        if access(preferred, F_OK) == 0 { return preferred }
        let candidates = FolderListing.names(in: folder).filter { $0.hasSuffix(".safetensors.index.json") }
        return candidates.count == 1 ? folder + "/" + candidates[0] : nil
    }

    /// Opens a folder (or an index file path).
    public init(path: String) throws {
        let indexPath: String
        if path.hasSuffix(".index.json") {
            indexPath = path
        } else if let found = ShardedSafeTensorsReader.indexPath(inFolder: path) {
            indexPath = found
        } else {
            throw SafeTensorsError.invalidIndex(file: path, reason: "no *.safetensors.index.json in this folder")
        }
        self.path = path
        self.indexPath = indexPath
        let index = try ShardIndex.read(path: indexPath)
        self.index = index
        let folder = Paths.folder(of: indexPath)
        var shards: [SafeTensorsReader] = []
        for name in index.shardNames {
            let shardPath = folder + "/" + name
            guard access(shardPath, F_OK) == 0 else { throw SafeTensorsError.shardMissing(index: indexPath, shard: name) }
            shards.append(try SafeTensorsReader(path: shardPath))
        }
        var expectedShard: [[UInt8]: String] = [:]
        for entry in index.weightMap { expectedShard[Array(entry.tensor.utf8)] = entry.shard }
        var foundIn: [[UInt8]: String] = [:]
        var tensors: [TensorInfo] = []
        var owners: [(Int, Int)] = []
        for (shardNumber, shard) in shards.enumerated() {
            let shardName = index.shardNames[shardNumber]
            for (tensorNumber, tensor) in shard.tensors.enumerated() {
                let key = Array(tensor.name.utf8)
                if let other = foundIn[key] {
                    throw SafeTensorsError.duplicateAcrossShards(index: indexPath, tensor: tensor.name, shards: [other, shardName])
                }
                guard let listed = expectedShard[key], listed.utf8.elementsEqual(shardName.utf8) else {
                    throw SafeTensorsError.tensorNotInIndex(index: indexPath, tensor: tensor.name, shard: shardName)
                }
                foundIn[key] = shardName
                tensors.append(tensor)
                owners.append((shardNumber, tensorNumber))
            }
        }
        for entry in index.weightMap where foundIn[Array(entry.tensor.utf8)] == nil {
            throw SafeTensorsError.tensorNotInShard(index: indexPath, tensor: entry.tensor, shard: entry.shard)
        }
        let listed = Set(index.shardNames.map { Array($0.utf8) })
        for name in FolderListing.names(in: folder) where ShardNaming.isShardFile(name, ofIndex: Paths.baseName(of: indexPath)) {
            if !listed.contains(Array(name.utf8)) {
                throw SafeTensorsError.invalidIndex(file: indexPath, reason: "shard file '\(escapedForTerminal(name))' in the folder is not listed in the index (a stale shard?); remove it or fix the index")
            }
        }
        self.shards = shards
        self.tensors = tensors
        self.owners = owners
        let totalBytes = tensors.reduce(0) { $0 + $1.byteCount }
        if let declared = index.metadata.first(where: { $0.key == "total_size" })?.value, Int(declared) != totalBytes {
            warnings.append("index metadata total_size is \(declared) but the shards hold \(totalBytes) bytes of tensors")
        }
    }

    public var metadata: CheckpointMetadata {
        CheckpointMetadata(safetensors: shards.first?.header.metadata, index: index.metadata)
    }

    public func location(of index: Int) -> TensorLocation {
        let owner = owners[index]
        return shards[owner.shard].location(of: owner.index)
    }

    public func data(at index: Int) throws -> TensorData {
        let owner = owners[index]
        return try shards[owner.shard].data(at: owner.index)
    }

    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? {
        let owner = owners[index]
        return shards[owner.shard].source(of: owner.index)
    }

    public func willRead(_ index: Int) {
        let owner = owners[index]
        shards[owner.shard].willRead(owner.index)
    }

    public func didRead(_ index: Int) {
        let owner = owners[index]
        shards[owner.shard].didRead(owner.index)
    }
}

/// The `model-00001-of-00003.safetensors` naming of huggingface_hub (5 digits, 1-based).
public enum ShardNaming {
    /// `prefix-0000k-of-0000n.ext` for shard `k` (1-based) of `n`.
    public static func shardName(prefix: String, number: Int, of count: Int, fileExtension: String) -> String {
        "\(prefix)-\(fiveDigits(number))-of-\(fiveDigits(count)).\(fileExtension)"
    }

    static func fiveDigits(_ value: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 5 - text.count)) + text
    }

    /// Whether `name` looks like a shard of the set whose index is `indexName`
    /// (`model.safetensors.index.json` → `model-NNNNN-of-NNNNN.safetensors`).
    public static func isShardFile(_ name: String, ofIndex indexName: String) -> Bool {
        guard indexName.hasSuffix(".index.json") else { return false }
        let single = String(indexName.dropLast(".index.json".count))  // model.safetensors
        guard let dot = single.lastIndex(of: ".") else { return false }
        let prefix = String(single[..<dot])
        let fileExtension = String(single[single.index(after: dot)...])
        guard name.hasPrefix(prefix + "-"), name.hasSuffix("." + fileExtension) else { return false }
        let middle = name.dropFirst(prefix.count + 1).dropLast(fileExtension.count + 1)
        let parts = middle.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[1] == "of" && parts[0].count == 5 && parts[2].count == 5
            && parts[0].allSatisfy(\.isASCIIDigitCharacter) && parts[2].allSatisfy(\.isASCIIDigitCharacter)
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}

/// Directory listing through `opendir(3)` / `readdir(3)`, names sorted by bytes.
public enum FolderListing {
    public static func names(in folder: String) -> [String] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
