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

/// Renames modules between namings. Between Hugging Face and llama.cpp names the table is that of the
/// adapter's llama.cpp architecture (gguf-py's tensor map of llama, qwen2, qwen3, gemma, gemma2), and
/// for llama alone the rows of B of Q and K are permuted as llama.cpp's converter permutes W (a pure
/// reorder: values are unchanged), which needs the base model's head counts. kohya names go back to
/// Hugging Face paths only for the module names ckpt knows (flattening `.` to `_` loses where the dots
/// were).
struct ModuleRenaming {
    let from: ModuleNaming
    let to: ModuleNaming
    /// The llama.cpp architecture of the adapter's base model (nil: nothing said which).
    let architecture: GGUFArchitectureSource?
    let config: LlamaConfig?
    /// The output being written, for errors.
    let path: String

    init(from: ModuleNaming, to: ModuleNaming, architecture: GGUFArchitectureSource? = nil, config: LlamaConfig?, path: String) {
        self.from = from
        self.to = to
        self.architecture = architecture
        self.config = config
        self.path = path
    }

    /// Whether renaming crosses between Hugging Face paths and llama.cpp names (needs the architecture).
    var crossesLlamaCpp: Bool { from != to && (from == .llamaCpp || to == .llamaCpp) }

    /// The architecture's name table; without one, an error saying how to give it.
    func names() throws -> GGUFArchitectureNames {
        guard let architecture else {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "cannot tell which llama.cpp architecture the adapter belongs to, which decides its \(to == .llamaCpp ? "GGUF" : "Hugging Face") names (and, for llama only, the Q/K row order): pass --base-config with the base model's config.json (or its folder, or the GGUF base); ckpt maps \(GGUFArchitectureNames.supported.joined(separator: ", "))")
        }
        do {
            return try architecture.names(for: to == .llamaCpp ? "a GGUF LoRA adapter" : "llama.cpp module names")
        } catch {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "\(error)")
        }
    }

    func rename(_ module: LoRAOutput.Module) throws -> LoRAOutput.Module {
        guard from != to else { return module }
        var result = module
        let table = crossesLlamaCpp ? try names() : nil
        let hf = try huggingFacePath(module.module, names: table)
        switch to {
        case .huggingFace: result.module = hf
        case .kohya: result.module = ModuleNaming.kohyaPrefix + String(hf.map { $0 == "." ? "_" : $0 })
        case .llamaCpp:
            guard let table, let name = Self.ggufModule(hf, names: table) else {
                let gemma = table.map { !$0.hasOutputTensor && (hf == "lm_head" || hf.hasSuffix(".lm_head")) } ?? false
                throw LowRankEditError.layoutNotWritable(path: path, reason: gemma
                    ? "module '\(escapedForTerminal(module.module))': llama.cpp's \(table?.architecture ?? "") models have no output tensor (token_embd is the output layer) and its converter refuses an lm_head LoRA; write --to peft or kohya, or drop the module"
                    : "module '\(escapedForTerminal(module.module))' has no llama.cpp tensor name in architecture \(table?.architecture ?? "?") (ckpt maps attention and MLP projections, embed_tokens, lm_head); a GGUF LoRA applies to llama.cpp tensors only — write --to peft or kohya")
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
        if let table, table.permutesQK, let gguf = Self.ggufModule(hf, names: table) {
            try permuteRotaryRows(&result, ggufModule: gguf, inverse: from == .llamaCpp)
        }
        return result
    }

    /// llama.cpp's name of a Hugging Face module, with or without the `model.` prefix PEFT may drop.
    static func ggufModule(_ hf: String, names: GGUFArchitectureNames) -> String? {
        names.ggufModule(hf) ?? names.ggufModule("model." + hf)
    }

    /// The Hugging Face module path of `module` in the `from` naming (`names`: the llama.cpp table, needed
    /// from llama.cpp names; kohya names use it when known, else the Llama names).
    func huggingFacePath(_ module: String, names: GGUFArchitectureNames? = nil) throws -> String {
        switch from {
        case .huggingFace: return module
        case .llamaCpp:
            let table = try names ?? self.names()
            guard let hf = table.hfModule(module) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "GGUF module '\(escapedForTerminal(module))' has no Hugging Face name in ckpt's \(table.architecture) table (attention and MLP projections, token_embd, output); keep --to gguf")
            }
            return hf
        case .kohya:
            var key = module
            if let prefix = BaseNames.kohyaPrefixes.first(where: { key.hasPrefix($0) }) { key = String(key.dropFirst(prefix.count)) }
            let table = names ?? architecture?.architecture.flatMap(GGUFArchitectureNames.init(architecture:)) ?? .llama
            guard let hf = table.hfModule(flattened: key) ?? table.hfModule(flattened: "model_" + key) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "kohya module '\(escapedForTerminal(module))': flattened names ('.' turned into '_') give back a module path only for the \(table.architecture) modules ckpt knows; keep --to kohya")
            }
            return hf
        }
    }

    /// llama.cpp's rotary row order for B (and bias) of Q/K; `inverse` goes back to Hugging Face order.
    func permuteRotaryRows(_ module: inout LoRAOutput.Module, ggufModule: String, inverse: Bool) throws {
        guard ggufModule.hasSuffix(".attn_q") || ggufModule.hasSuffix(".attn_k") else { return }
        guard let config, let heads = LlamaNames.permutedHeads(ggufModule: ggufModule, config: config) else {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))' is a rotary projection whose rows llama.cpp's converter permutes per head (llama only): pass --base-config with the base model's config.json (or its folder, or the GGUF base) for the head counts")
        }
        let permutation = RowPermutation(heads: heads, inverse: inverse)
        guard module.kind == .linear, permutation.fits(rows: module.b.rows), (module.bias?.count ?? module.b.rows) == module.b.rows else {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))': \(module.b.rows) output rows do not split into \(heads) heads of an even size (is --base-config the right model?)")
        }
        module.b = try GGUFBaseMapping.permuteRows(module.b, permutation)
        if let bias = module.bias { module.bias = (0..<bias.count).map { bias[permutation.sourceRow($0, rows: bias.count)] } }
    }
}
