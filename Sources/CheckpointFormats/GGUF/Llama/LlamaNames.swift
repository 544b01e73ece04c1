/// Tensor names of the Llama family in Hugging Face transformers and in llama.cpp (gguf-py's tensor
/// map for `MODEL_ARCH.LLAMA`), both directions, with the Q/K row permutation of llama.cpp's converter.
public enum LlamaNames {
    static let globalModules: [(hf: String, gguf: String)] = [
        ("model.embed_tokens", "token_embd"), ("model.norm", "output_norm"), ("lm_head", "output"),
    ]

    /// The llama.cpp name of a Hugging Face module path (no `.weight`), or nil when it has none.
    public static func ggufModule(_ hf: String) -> String? { GGUFArchitectureNames.llama.ggufModule(hf) }

    /// The Hugging Face module path of a llama.cpp module name, or nil.
    public static func hfModule(_ gguf: String) -> String? { GGUFArchitectureNames.llama.hfModule(gguf) }

    /// The Hugging Face module path whose kohya-flattened form (`.` → `_`, no `lora_*_` prefix) is
    /// `flattened`, or nil. Flattening is not reversible in general; the Llama names are known.
    public static func hfModule(flattened: String) -> String? { GGUFArchitectureNames.llama.hfModule(flattened: flattened) }

    /// Heads whose Q/K rows llama.cpp's converter permutes for a module, or nil.
    public static func permutedHeads(ggufModule: String, config: LlamaConfig) -> Int? {
        if ggufModule.hasSuffix(".attn_q") { return config.heads }
        if ggufModule.hasSuffix(".attn_k") { return config.kvHeads }
        return nil
    }

    /// Mapping of one Hugging Face tensor to GGUF: nil when it has no llama.cpp name, `.some(nil)` when
    /// llama.cpp's converter drops it (rotary caches, a tied `lm_head`).
    public static func toGGUF(_ name: String, config: LlamaConfig) -> TensorTransform?? {
        if name.hasSuffix(".rotary_emb.inv_freq") { return .some(nil) }
        if name == "lm_head.weight" && config.tieWordEmbeddings { return .some(nil) }
        guard let (module, suffix) = splitSuffix(name), let gguf = ggufModule(module) else { return nil }
        let heads = permutedHeads(ggufModule: gguf, config: config)
        return TensorTransform(name: gguf + suffix, rowPermutation: heads.map { RowPermutation(heads: $0) })
    }

    /// Mapping of one GGUF tensor back to Hugging Face names, the permutation undone.
    public static func toHF(_ name: String, config: LlamaConfig) -> TensorTransform?? {
        if name == "rope_freqs.weight" { return .some(nil) }
        guard let (module, suffix) = splitSuffix(name), let hf = hfModule(module) else { return nil }
        let heads = permutedHeads(ggufModule: module, config: config)
        return TensorTransform(name: hf + suffix, rowPermutation: heads.map { RowPermutation(heads: $0, inverse: true) })
    }

    /// ("model.layers.3.mlp.up_proj", ".weight") from a tensor name ending in .weight or .bias.
    static func splitSuffix(_ name: String) -> (String, String)? {
        for suffix in [".weight", ".bias"] where name.hasSuffix(suffix) {
            return (String(name.dropLast(suffix.count)), suffix)
        }
        return nil
    }

    /// ("3", "mlp.up_proj") from "model.layers.3.mlp.up_proj" with prefix "model.layers.".
    static func split(_ name: String, prefix: String) -> (String, String)? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), rest[..<dot].allSatisfy(\.isASCII), let _ = Int(rest[..<dot]) else { return nil }
        return (String(rest[..<dot]), String(rest[rest.index(after: dot)...]))
    }
}
