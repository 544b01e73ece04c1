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
                case .gguf: advice = "GGUF support is not in this build yet"
                case .zip, .legacyTorch, .pickle, .torchPreview: advice = "PyTorch checkpoints are not supported by this build yet"
                case .gitLFSPointer, .html, .empty: advice = "get the real file"
                default: advice = "ckpt reads safetensors files and sharded safetensors folders"
                }
                return "'\(escapedForTerminal(path))' is \(detected); \(advice)"
            case let .emptyFolder(path):
                return "'\(escapedForTerminal(path))' is a folder without a *.safetensors.index.json or a single *.safetensors file"
            }
        }
    }

    /// Opens a file or a folder. A folder is a sharded set (by its index) or holds one safetensors file.
    /// A zstd-compressed file is decompressed first; `decompressionProgress` then receives (compressed
    /// bytes read, compressed size).
    public static func open(_ path: String, decompressionProgress: ((Int, Int) -> Void)? = nil) throws -> any CheckpointReader {
        if FolderListing.isFolder(path) {
            if ShardedSafeTensorsReader.indexPath(inFolder: path) != nil {
                return try ShardedSafeTensorsReader(path: path)
            }
            let singles = FolderListing.names(in: path).filter { $0.hasSuffix(".safetensors") }
            guard singles.count == 1 else { throw OpenError.emptyFolder(path: path) }
            return try SafeTensorsReader(path: Paths.join(path, singles[0]))
        }
        if path.hasSuffix(".index.json") { return try ShardedSafeTensorsReader(path: path) }
        let file = try ReadOnlyFile(path: path)
        let detected = DetectedFormat.sniff(try file.read(at: 0, count: min(file.size, 512)))
        if detected == .zstd || ZstdFormat.hasExtension(path) {
            return try CompressedCheckpointReader(path: path, file: file, progress: decompressionProgress)
        }
        switch detected {
        case .safetensors, .unknown, .empty:
            // Unknown first bytes still go to the safetensors reader: its errors are the precise ones.
            return try SafeTensorsReader(path: path)
        default:
            if path.hasSuffix(".safetensors") { throw SafeTensorsError.notSafetensors(file: path, detected: detected) }
            throw OpenError.unsupported(path: path, detected: detected)
        }
    }
}
