import CheckpointCore

extension OutputTarget {
    /// The same single-file target writing to `path` instead (the `.zst` name of a compressed output);
    /// nil for targets that write several files (shards, GGUF split sets), which cannot be compressed
    /// into one.
    public func redirected(to path: String) -> OutputTarget? {
        switch self {
        case .safetensors: return .safetensors(path: path)
        case .torch: return .torch(path: path)
        case let .gguf(_, splitMaxSize, splitMaxTensors):
            return splitMaxSize > 0 || splitMaxTensors > 0 ? nil : .gguf(path: path, splitMaxSize: 0, splitMaxTensors: 0)
        case .shardedSafetensors, .shardedTorch: return nil
        }
    }

    /// An output filter only goes to a single file.
    func checkFilterable(_ filter: OutputFilter?) throws {
        if filter != nil, redirected(to: "") == nil {
            throw ZstdError.cannotCompress(output: "\(self)", reason: "the output is several files; --compress writes one")
        }
    }
}
