extension CheckpointMetadata {
    /// Tied tensors a safetensors file records the way `safetensors.torch.save_model` does: a metadata
    /// entry `dropped name = kept name` whose key is not a tensor and whose value is one. Used to tie
    /// them again when writing PyTorch output.
    public func savedModelAliases(tensorNames: [String]) -> [(name: String, target: String)] {
        guard let entries = safetensors else { return [] }
        let names = Set(tensorNames.map { Array($0.utf8) })
        return entries.filter { !names.contains(Array($0.key.utf8)) && names.contains(Array($0.value.utf8)) }
            .map { (name: $0.key, target: $0.value) }
    }
}

extension OutputTarget {
    public var isPyTorch: Bool {
        switch self {
        case .torch, .shardedTorch: return true
        default: return false
        }
    }
}
