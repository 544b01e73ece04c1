import CheckpointCore

/// Why a merge or unmerge cannot go on. Each case names the files and tensors involved and says
/// what the user can do.
public enum SurgeryError: Error, Sendable, CustomStringConvertible {
    case adapterNotRecognised(path: String, reason: String)
    case adapterConfig(path: String, message: String)
    case refusedAdapter(path: String, kind: String, reason: String)
    case unsupported(path: String, what: String)
    case malformedAdapter(path: String, tensor: String, message: String)
    case unmatched(adapter: String, module: String, tried: [String])
    case shapeMismatch(adapter: String, module: String, adapterShape: String, base: String, baseShape: [Int])
    case tiedEmbeddings(adapter: String, module: String, shared: String, llamaCpp: Bool)
    case conflictingReplacement(tensor: String, first: String, second: String)
    case nonFinite(tensor: String, module: String, element: Int)
    case residual(path: String, message: String)
    case notFloat(tensor: String, dtype: DType)

    public var description: String {
        func q(_ text: String) -> String { "'" + escapedForTerminal(text) + "'" }
        switch self {
        case let .adapterNotRecognised(path, reason):
            return "\(q(path)) is not an adapter ckpt recognises: \(reason); force a kind with --adapter-format peft|kohya|melora|gguf"
        case let .adapterConfig(path, message):
            return "\(q(path)): \(message)"
        case let .refusedAdapter(path, kind, reason):
            return "\(q(path)) is \(kind); ckpt refuses to merge it: \(reason)"
        case let .unsupported(path, what):
            return "\(q(path)): \(what) is not supported by this build"
        case let .malformedAdapter(path, tensor, message):
            return "\(q(path)), tensor \(q(tensor)): \(message)"
        case let .unmatched(adapter, module, tried):
            return "adapter \(q(adapter)) module \(q(module)) matches no tensor of the base (tried \(tried.map(q).joined(separator: ", "))); check that the adapter belongs to this base, or pass --ignore-unmatched to skip it"
        case let .shapeMismatch(adapter, module, adapterShape, base, baseShape):
            return "adapter \(q(adapter)) module \(q(module)) (\(adapterShape)) does not fit base tensor \(q(base)) of shape \(baseShape); the adapter was trained on another model, or pass --ignore-unmatched to skip it"
        case let .tiedEmbeddings(adapter, module, shared, llamaCpp) where llamaCpp:
            return "adapter \(q(adapter)) changes \(q(module)), but the GGUF base has no output.weight, so llama.cpp uses the token embeddings (\(q(shared))) as the output layer too: merging would change both. Pass --untie to write a separate output.weight (llama.cpp then uses it; nothing else to change), or drop that module from the adapter"
        case let .tiedEmbeddings(adapter, module, shared, _):
            return "adapter \(q(adapter)) changes \(q(module)), but the base ties its input embeddings and lm_head to one tensor (\(q(shared))): merging would change both. Pass --untie to write a separate lm_head.weight (then set tie_word_embeddings to false in config.json), or drop that module from the adapter"
        case let .conflictingReplacement(tensor, first, second):
            return "tensor \(q(tensor)) is replaced by two adapters (\(q(first)) and \(q(second)), modules_to_save); merge them one at a time"
        case let .nonFinite(tensor, module, element):
            return "merging \(q(module)) into \(q(tensor)) gives a NaN or infinite value at element \(element) where the base is finite; the adapter is broken (or --weight too large); nothing was written"
        case let .residual(path, message):
            return "residual file \(q(path)): \(message)"
        case let .notFloat(tensor, dtype):
            return "base tensor \(q(tensor)) is \(dtype.userName); adapters can only be merged into floating-point tensors and into the ggml block types ckpt can dequantize"
        }
    }
}
