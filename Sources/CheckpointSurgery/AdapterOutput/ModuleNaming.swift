import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// How an adapter names its modules, which decides what writing it in another layout must rename.
public enum ModuleNaming: String, Sendable {
    /// Dotted Hugging Face module paths (`model.layers.0.self_attn.q_proj`): PEFT, MELoRA.
    case huggingFace
    /// kohya's flattened names (`lora_unet_model_layers_0_self_attn_q_proj`).
    case kohya
    /// llama.cpp's tensor names without `.weight` (`blk.0.attn_q`), in llama.cpp's Q/K row order.
    case llamaCpp

    public init(of adapter: Adapter) {
        self = adapter.format == .gguf ? .llamaCpp : adapter.flattenedNames ? .kohya : .huggingFace
    }

    /// The naming of modules named after a base checkpoint's tensors (extraction).
    public init(baseModules modules: [String]) {
        self = modules.contains { $0.hasPrefix("blk.") || LlamaNames.hfModule($0) != nil } ? .llamaCpp : .huggingFace
    }

    /// The naming a layout's files use.
    init(layout: AdapterFormat) {
        switch layout {
        case .peft, .melora: self = .huggingFace
        case .kohya: self = .kohya
        case .gguf: self = .llamaCpp
        }
    }

    /// The prefix kohya-style trainers of non-Stable-Diffusion models (sd-scripts for Flux, musubi-tuner)
    /// put before the flattened path; ckpt's loader strips it again.
    static let kohyaPrefix = "lora_unet_"
}

/// Renames modules between namings. Between Hugging Face and llama.cpp names the rows of B of Q and K
/// are permuted as llama.cpp's converter permutes W (a pure reorder: values are unchanged), which needs
/// the base model's head counts. kohya names go back to Hugging Face paths only for the Llama names
/// ckpt knows (flattening `.` to `_` loses where the dots were).
struct ModuleRenaming {
    let from: ModuleNaming
    let to: ModuleNaming
    let config: LlamaConfig?
    /// The output being written, for errors.
    let path: String

    func rename(_ module: LoRAOutput.Module) throws -> LoRAOutput.Module {
        guard from != to else { return module }
        var result = module
        let hf = try huggingFacePath(module.module)
        switch to {
        case .huggingFace: result.module = hf
        case .kohya: result.module = ModuleNaming.kohyaPrefix + String(hf.map { $0 == "." ? "_" : $0 })
        case .llamaCpp:
            guard let name = ModuleRenaming.llamaModule(hf) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))' has no llama.cpp tensor name (ckpt maps the Llama family: attention and MLP projections, embed_tokens, lm_head); a GGUF LoRA applies to llama.cpp tensors only — write --to peft or kohya")
            }
            result.module = name
        }
        // kohya stores an embedding as a plain (vocab × dim) product; the other layouts keep PEFT's
        // lora_embedding orientation. Transposing both factors swaps the roles exactly.
        let isEmbedding = BaseNames.embeddingSuffixes.contains { (hf + ".weight").hasSuffix($0) }
        if from == .kohya, isEmbedding, module.kind == .linear {
            result.kind = .embedding
            (result.a, result.b) = (module.b.transposed(), module.a.transposed())
        }
        let gguf = ModuleRenaming.llamaModule(hf)
        if (from == .llamaCpp) != (to == .llamaCpp), let gguf {
            try permuteRotaryRows(&result, ggufModule: gguf, inverse: from == .llamaCpp)
        }
        return result
    }

    /// llama.cpp's name of a Hugging Face module, with or without the `model.` prefix PEFT may drop.
    static func llamaModule(_ hf: String) -> String? {
        LlamaNames.ggufModule(hf) ?? LlamaNames.ggufModule("model." + hf)
    }

    /// The Hugging Face module path of `module` in the `from` naming.
    func huggingFacePath(_ module: String) throws -> String {
        switch from {
        case .huggingFace: return module
        case .llamaCpp:
            guard let hf = LlamaNames.hfModule(module) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "GGUF module '\(escapedForTerminal(module))' has no Hugging Face name ckpt knows (it maps the Llama family); keep --to gguf")
            }
            return hf
        case .kohya:
            var key = module
            if let prefix = BaseNames.kohyaPrefixes.first(where: { key.hasPrefix($0) }) { key = String(key.dropFirst(prefix.count)) }
            guard let hf = LlamaNames.hfModule(flattened: key) ?? LlamaNames.hfModule(flattened: "model_" + key) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "kohya module '\(escapedForTerminal(module))': flattened names ('.' turned into '_') give back a module path only for the Llama modules ckpt knows; keep --to kohya")
            }
            return hf
        }
    }

    /// llama.cpp's rotary row order for B (and bias) of Q/K; `inverse` goes back to Hugging Face order.
    func permuteRotaryRows(_ module: inout LoRAOutput.Module, ggufModule: String, inverse: Bool) throws {
        guard ggufModule.hasSuffix(".attn_q") || ggufModule.hasSuffix(".attn_k") else { return }
        guard let config, let heads = LlamaNames.permutedHeads(ggufModule: ggufModule, config: config) else {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))' is a rotary projection whose rows llama.cpp's converter permutes per head: pass --base-config with the base model's config.json (or its folder, or the GGUF base) for the head counts")
        }
        let permutation = RowPermutation(heads: heads, inverse: inverse)
        guard module.kind == .linear, permutation.fits(rows: module.b.rows), (module.bias?.count ?? module.b.rows) == module.b.rows else {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))': \(module.b.rows) output rows do not split into \(heads) heads of an even size (is --base-config the right model?)")
        }
        module.b = try GGUFBaseMapping.permuteRows(module.b, permutation)
        if let bias = module.bias { module.bias = (0..<bias.count).map { bias[permutation.sourceRow($0, rows: bias.count)] } }
    }
}
