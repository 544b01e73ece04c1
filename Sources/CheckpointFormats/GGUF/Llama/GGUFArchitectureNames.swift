/// Hugging Face module paths ↔ llama.cpp tensor names for the decoder architectures whose GGUF files
/// adapters are merged into: the facts of gguf-py's `TensorNameMap` (gguf 0.19) per `MODEL_ARCH`, and
/// of llama.cpp's convert_hf_to_gguf.py about Q/K rows (only `LlamaModel`, which also converts Mistral
/// as `llama`, permutes them) and norm weights (Gemma's converter stores `w + 1`).
public struct GGUFArchitectureNames: Sendable {
    /// `general.architecture` of the GGUF file.
    public let architecture: String
    /// Per-layer modules: (suffix after `model.layers.N.`, suffix after `blk.N.`).
    let layerModules: [(hf: String, gguf: String)]
    /// Whether the converter permuted the rows of Q and K for llama.cpp's rotary layout.
    public let permutesQK: Bool
    /// Whether the converter added 1 to every RMSNorm weight (Gemma stores `1 + w`).
    public let normsOffsetByOne: Bool
    /// Whether llama.cpp reads an `output.weight` for this architecture; Gemma and Gemma 2 always use
    /// `token_embd.weight` as the output layer (their converter drops lm_head; a file with an extra
    /// tensor fails to load).
    public let hasOutputTensor: Bool

    static let attention: [(hf: String, gguf: String)] = [
        ("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
        ("mlp.down_proj", "ffn_down"), ("input_layernorm", "attn_norm"),
    ]
    static let qkNorms: [(hf: String, gguf: String)] = [("self_attn.q_norm", "attn_q_norm"), ("self_attn.k_norm", "attn_k_norm")]
    /// Gemma 2's four norms per layer (its `post_attention_layernorm` follows attention, not precedes the MLP).
    static let sandwichNorms: [(hf: String, gguf: String)] = [
        ("post_attention_layernorm", "post_attention_norm"), ("pre_feedforward_layernorm", "ffn_norm"),
        ("post_feedforward_layernorm", "post_ffw_norm"),
    ]
    static let preMLPNorm: [(hf: String, gguf: String)] = [("post_attention_layernorm", "ffn_norm")]

    /// Every architecture ckpt maps, by its GGUF name.
    public static let all: [GGUFArchitectureNames] = [
        GGUFArchitectureNames(architecture: "llama", layerModules: attention + preMLPNorm, permutesQK: true, normsOffsetByOne: false, hasOutputTensor: true),
        GGUFArchitectureNames(architecture: "qwen2", layerModules: attention + preMLPNorm, permutesQK: false, normsOffsetByOne: false, hasOutputTensor: true),
        GGUFArchitectureNames(architecture: "qwen3", layerModules: attention + preMLPNorm + qkNorms, permutesQK: false, normsOffsetByOne: false, hasOutputTensor: true),
        GGUFArchitectureNames(architecture: "gemma", layerModules: attention + preMLPNorm, permutesQK: false, normsOffsetByOne: true, hasOutputTensor: false),
        GGUFArchitectureNames(architecture: "gemma2", layerModules: attention + sandwichNorms, permutesQK: false, normsOffsetByOne: true, hasOutputTensor: false),
    ]

    public static var llama: GGUFArchitectureNames { all[0] }
    public static var supported: [String] { all.map(\.architecture) }

    public init?(architecture: String) {
        guard let known = Self.all.first(where: { $0.architecture == architecture }) else { return nil }
        self = known
    }

    init(architecture: String, layerModules: [(hf: String, gguf: String)], permutesQK: Bool, normsOffsetByOne: Bool, hasOutputTensor: Bool) {
        self.architecture = architecture
        self.layerModules = layerModules
        self.permutesQK = permutesQK
        self.normsOffsetByOne = normsOffsetByOne
        self.hasOutputTensor = hasOutputTensor
    }

    /// The llama.cpp name of a Hugging Face module path (no `.weight`), or nil when it has none.
    public func ggufModule(_ hf: String) -> String? {
        if hf == "lm_head" && !hasOutputTensor { return nil }
        if let hit = LlamaNames.globalModules.first(where: { $0.hf == hf }) { return hit.gguf }
        guard let (layer, rest) = LlamaNames.split(hf, prefix: "model.layers.") else { return nil }
        return layerModules.first { $0.hf == rest }.map { "blk.\(layer).\($0.gguf)" }
    }

    /// The Hugging Face module path of a llama.cpp module name, or nil.
    public func hfModule(_ gguf: String) -> String? {
        if gguf == "output" && !hasOutputTensor { return nil }
        if let hit = LlamaNames.globalModules.first(where: { $0.gguf == gguf }) { return hit.hf }
        guard let (layer, rest) = LlamaNames.split(gguf, prefix: "blk.") else { return nil }
        return layerModules.first { $0.gguf == rest }.map { "model.layers.\(layer).\($0.hf)" }
    }

    /// The Hugging Face module path whose kohya-flattened form (`.` → `_`, no `lora_*_` prefix) is
    /// `flattened`, or nil. Flattening is not reversible in general; this architecture's names are known.
    public func hfModule(flattened: String) -> String? {
        func flat(_ name: String) -> String { String(name.map { $0 == "." ? "_" : $0 }) }
        if let hit = LlamaNames.globalModules.first(where: { flat($0.hf) == flattened }) {
            return hit.hf == "lm_head" && !hasOutputTensor ? nil : hit.hf
        }
        guard flattened.hasPrefix("model_layers_") else { return nil }
        let rest = flattened.dropFirst("model_layers_".count)
        guard let underscore = rest.firstIndex(of: "_"), !rest[..<underscore].isEmpty,
              rest[..<underscore].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let layer = rest[..<underscore], suffix = String(rest[rest.index(after: underscore)...])
        return layerModules.first { flat($0.hf) == suffix }.map { "model.layers.\(layer).\($0.hf)" }
    }

    /// Whether the llama.cpp module is a norm whose stored weight the converter offset by one.
    public func isOffsetNorm(ggufModule: String) -> Bool {
        normsOffsetByOne && ggufModule.hasSuffix("_norm")
    }
}
