import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// Where and how a conversion writes, resolved from the output path, `--to` and `--shard-size`.
public enum OutputTarget: Sendable, Equatable {
    /// One safetensors file.
    case safetensors(path: String)
    /// A transformers-style sharded set in `folder`: `prefix-0000k-of-0000n.safetensors` + index
    /// (or `prefix.safetensors` alone when one shard suffices).
    case shardedSafetensors(folder: String, prefix: String, maxShardSize: Int)
    /// One PyTorch zip checkpoint (`.bin`, `.pt`, `.pth`).
    case torch(path: String)
    /// `prefix-0000k-of-0000n.bin` shards + `prefix.bin.index.json` (or `prefix.bin` alone).
    case shardedTorch(folder: String, prefix: String, maxShardSize: Int)
    /// One GGUF file, or a split set `NAME-0000k-of-0000n.gguf` when a split limit is given (0 = none).
    case gguf(path: String, splitMaxSize: Int, splitMaxTensors: Int)

    public struct ResolutionError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Output formats by name for `--to`.
    public static let formatNames = ["safetensors", "pytorch", "gguf"]

    /// Resolves `path`:
    /// - an existing folder, or a path ending in `/`: a sharded set named `model` inside it
    ///   (`pytorch_model` with `--to pytorch`);
    /// - `NAME.bin` / `.pt` / `.pth` (or `--to pytorch`): a PyTorch file, sharded with a shard size;
    /// - `NAME.safetensors` with a shard size: a sharded set named `NAME` in its folder;
    /// - `NAME.safetensors`: one file.
    public static func resolve(path: String, format: String?, shardSize: Int?) throws -> OutputTarget {
        let lower = path.lowercased()
        if let format, !formatNames.contains(format.lowercased()) {
            throw ResolutionError(description: "--to \(format): this build writes \(formatNames.joined(separator: ", "))")
        }
        if format.map({ $0.lowercased() == "gguf" }) ?? lower.hasSuffix(".gguf") {
            guard !path.hasSuffix("/"), !FolderListing.isFolder(path) else {
                throw ResolutionError(description: "'\(escapedForTerminal(path))': GGUF output is a file name (NAME.gguf; split sets are named from it)")
            }
            if shardSize != nil {
                throw ResolutionError(description: "--shard-size shards safetensors output; for GGUF use --split-max-size or --split-max-tensors")
            }
            return .gguf(path: path, splitMaxSize: 0, splitMaxTensors: 0)
        }
        if path.hasSuffix("/") || FolderListing.isFolder(path) {
            let folder = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
            if format?.lowercased() == "pytorch" {
                return .shardedTorch(folder: folder, prefix: "pytorch_model", maxShardSize: shardSize ?? Int.max)
            }
            return .shardedSafetensors(folder: folder, prefix: "model", maxShardSize: shardSize ?? Int.max)
        }
        let torchExtension = [".bin", ".pt", ".pth"].first { lower.hasSuffix($0) }
        if format?.lowercased() == "pytorch" || (format == nil && torchExtension != nil) {
            guard let torchExtension else {
                throw ResolutionError(description: "--to pytorch: end the output name in .bin, .pt or .pth")
            }
            guard let shardSize else { return .torch(path: path) }
            let name = Paths.baseName(of: path)
            return .shardedTorch(folder: Paths.folder(of: path), prefix: String(name.dropLast(torchExtension.count)), maxShardSize: shardSize)
        }
        for unsupported in [".ckpt"] where lower.hasSuffix(unsupported) && format == nil {
            throw ResolutionError(description: "'\(escapedForTerminal(path))': writing \(unsupported) files is not supported by this build; write .safetensors (or pass --to safetensors)")
        }
        guard lower.hasSuffix(".safetensors") || format != nil else {
            throw ResolutionError(description: "cannot tell the output format of '\(escapedForTerminal(path))' from its name; end it in .safetensors or .gguf, end it with / for a folder, or pass --to")
        }
        if let shardSize {
            let name = Paths.baseName(of: path)
            let prefix = name.lowercased().hasSuffix(".safetensors") ? String(name.dropLast(".safetensors".count)) : name
            return .shardedSafetensors(folder: Paths.folder(of: path), prefix: prefix, maxShardSize: shardSize)
        }
        return .safetensors(path: path)
    }

    /// The same GGUF target split as gguf-py's `split_max_size` / `split_max_tensors` do (0 = no limit).
    public func splitting(maxSize: Int, maxTensors: Int) throws -> OutputTarget {
        guard case let .gguf(path, _, _) = self else {
            throw ResolutionError(description: "--split-max-size and --split-max-tensors split GGUF output; for safetensors use --shard-size")
        }
        return .gguf(path: path, splitMaxSize: maxSize, splitMaxTensors: maxTensors)
    }

    /// Whether the format stores ggml block-quantized tensors as they are.
    public var storesBlockTypes: Bool {
        if case .gguf = self { return true }
        return false
    }

    /// Creates the writer for `tensors` with the source's metadata carried as GGUFMetadataMapping says;
    /// `dropped` is how many source key/values the output cannot hold. GGUF outputs get the keys
    /// llama.cpp expects (`general.quantization_version`, `general.file_type`).
    /// `aliases` (alias, kept name) are tied tensors of the source (see `makeWriter(metadata:...)`); GGUF
    /// has no aliases, so a GGUF output keeps the one stored tensor.
    /// `filter` (zstd) goes to the output of a single-file target (see `OutputTarget.redirected(to:)`).
    public func makeWriter(carrying source: CheckpointMetadata, tensors: [TensorInfo], aliases: [(name: String, target: String)] = [], overwrite: Bool, filter: OutputFilter? = nil) throws -> (writer: any CheckpointWriter, dropped: Int) {
        try checkFilterable(filter)
        switch self {
        case let .gguf(path, splitMaxSize, splitMaxTensors):
            var metadata = GGUFMetadataMapping.ggufMetadata(from: source)
            GGUFMetadataMapping.addDerivedKeys(&metadata, tensors: tensors)
            if splitMaxSize > 0 || splitMaxTensors > 0 {
                return (try GGUFSplitWriter(destination: path, metadata: metadata, tensors: tensors, maxSize: splitMaxSize, maxTensors: splitMaxTensors, overwrite: overwrite), 0)
            }
            return (try GGUFWriter(destination: path, metadata: metadata, tensors: tensors, overwrite: overwrite, filter: filter), 0)
        default:
            var carried = source
            let (strings, dropped) = GGUFMetadataMapping.safetensorsMetadata(from: source)
            carried.safetensors = strings
            let metadata = carried.safetensorsOutput(aliases: isPyTorch ? [] : aliases)
            return (try makeWriter(metadata: metadata, tensors: tensors, aliases: aliases, overwrite: overwrite, filter: filter), dropped)
        }
    }

    /// Creates the writer for `tensors` (in state-dict order) and `metadata`.
    /// `aliases` (alias, kept name) are tied tensors: PyTorch output stores them once under both names;
    /// safetensors output records them in `metadata` only (see `CheckpointMetadata.safetensorsOutput`).
    public func makeWriter(metadata: [(key: String, value: String)]?, tensors: [TensorInfo], aliases: [(name: String, target: String)] = [], overwrite: Bool, filter: OutputFilter? = nil) throws -> any CheckpointWriter {
        try checkFilterable(filter)
        if !storesBlockTypes, let quantized = tensors.first(where: \.dtype.isBlockQuantized) {
            throw ConversionPlan.PlanError.blockQuantizedOutput(tensor: quantized.name, dtype: quantized.dtype)
        }
        switch self {
        case let .gguf(path, _, _):
            return try GGUFWriter(destination: path, metadata: GGUFMetadata(metadata?.map { GGUFKeyValue(GGUFMetadataMapping.safetensorsPrefix + $0.key, .string($0.value)) } ?? []), tensors: tensors, overwrite: overwrite, filter: filter)
        case let .torch(path):
            return try TorchWriter(destination: path, tensors: tensors, aliases: aliases, overwrite: overwrite, filter: filter)
        case let .shardedTorch(folder, prefix, maxShardSize):
            try Folders.create(folder)
            return try ShardedSafeTensorsWriter(folder: folder, prefix: prefix, metadata: nil, tensors: tensors, maxShardSize: maxShardSize, overwrite: overwrite, shardFormat: .torch(aliases: aliases))
        case let .safetensors(path):
            return try SafeTensorsWriter(destination: path, metadata: metadata, tensors: tensors, overwrite: overwrite, filter: filter)
        case let .shardedSafetensors(folder, prefix, maxShardSize):
            try Folders.create(folder)
            return try ShardedSafeTensorsWriter(folder: folder, prefix: prefix, metadata: metadata, tensors: tensors, maxShardSize: maxShardSize, overwrite: overwrite)
        }
    }
}

/// Creating output folders (`mkdir(2)` for each missing component, like `mkdir -p`).
public enum Folders {
    public static func create(_ path: String) throws(FileError) {
        guard !path.isEmpty, !FolderListing.isFolder(path) else { return }
        let parent = Paths.folder(of: path)
        if parent != path && parent != "." && parent != "/" { try create(parent) }
        if mkdir(path, 0o777) != 0 && errno != EEXIST {
            throw FileError(path: path, operation: "create folder", errno: errno)
        }
    }
}
