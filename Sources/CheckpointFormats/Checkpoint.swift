import CheckpointCore

/// Opening any checkpoint path with the right reader, chosen by content, not by name.
public enum Checkpoint {
    public enum OpenError: Error, CustomStringConvertible {
        case unsupported(path: String, detected: DetectedFormat)
        case emptyFolder(path: String)

        public var description: String {
            switch self {
            case let .unsupported(path, detected):
                let advice: String
                switch detected {
                case .legacyTorch, .pickle, .torchPreview: advice = "re-save it with a current torch.save (zip format)"
                case .gitLFSPointer, .html, .empty: advice = "get the real file"
                default: advice = "ckpt reads safetensors files and sharded safetensors folders"
                }
                return "'\(escapedForTerminal(path))' is \(detected); \(advice)"
            case let .emptyFolder(path):
                return "'\(escapedForTerminal(path))' is a folder without an index (*.safetensors.index.json, pytorch_model.bin.index.json) or a single *.safetensors (or .bin/.pt) file"
            }
        }
    }

    /// Opens a file or a folder. A folder is a sharded set (by its index) or holds one safetensors file
    /// (or, failing that, one PyTorch `.bin`/`.pt`/`.pth` file such as a PEFT `adapter_model.bin`).
    /// `torch` applies to PyTorch checkpoints (`--key`, `--verify`). A zstd-compressed file is
    /// decompressed first; `decompressionProgress` then receives (compressed bytes read, compressed size).
    public static func open(_ path: String, torch: TorchReadOptions = TorchReadOptions(), decompressionProgress: ((Int, Int) -> Void)? = nil) throws -> any CheckpointReader {
        if FolderListing.isFolder(path) {
            if ShardedSafeTensorsReader.indexPath(inFolder: path) != nil {
                return try ShardedSafeTensorsReader(path: path)
            }
            if ShardedTorchReader.indexPath(inFolder: path) != nil {
                return try ShardedTorchReader(path: path, options: torch)
            }
            let names = FolderListing.names(in: path)
            let singles = names.filter { $0.hasSuffix(".safetensors") }
            if singles.isEmpty {
                let torchFiles = names.filter { $0.hasSuffix(".bin") || $0.hasSuffix(".pt") || $0.hasSuffix(".pth") }
                if torchFiles.count == 1 { return try TorchReader(path: Paths.join(path, torchFiles[0]), options: torch) }
            }
            guard singles.count == 1 else { throw OpenError.emptyFolder(path: path) }
            return try SafeTensorsReader(path: Paths.join(path, singles[0]))
        }
        if path.hasSuffix(".bin.index.json") || path.hasSuffix(".pt.index.json") { return try ShardedTorchReader(path: path, options: torch) }
        if path.hasSuffix(".index.json") { return try ShardedSafeTensorsReader(path: path) }
        let file = try ReadOnlyFile(path: path)
        let detected = DetectedFormat.sniff(try file.read(at: 0, count: min(file.size, 512)))
        if detected == .zstd || ZstdFormat.hasExtension(path) {
            return try CompressedCheckpointReader(path: path, file: file, torch: torch, progress: decompressionProgress)
        }
        switch detected {
        case .gguf where !path.hasSuffix(".safetensors"):
            let reader = try GGUFReader(path: path)
            return GGUFSplitReader.isSplit(reader) ? try GGUFSplitReader(path: path, opened: reader) : reader
        case .safetensors, .unknown, .empty:
            // A file named .gguf that is not one gets the GGUF reader's precise refusal.
            if path.hasSuffix(".gguf") { return try GGUFReader(path: path) }
            // Unknown first bytes still go to the safetensors reader: its errors are the precise ones.
            return try SafeTensorsReader(path: path)
        case .zip where !path.hasSuffix(".safetensors"):
            return try TorchReader(zip: try ZipArchive(file: file), options: torch)
        case .legacyTorch where !path.hasSuffix(".safetensors"):
            throw TorchError.legacyFormat(file: path)
        default:
            if path.hasSuffix(".safetensors") { throw SafeTensorsError.notSafetensors(file: path, detected: detected) }
            throw OpenError.unsupported(path: path, detected: detected)
        }
    }
}
