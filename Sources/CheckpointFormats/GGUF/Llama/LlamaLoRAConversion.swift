import CheckpointCore

/// `ckpt convert ADAPTER_DIR out.gguf --arch ARCH`: a PEFT LoRA to the GGUF adapter layout of llama.cpp's
/// convert_lora_to_gguf.py for that architecture (llama, qwen2, qwen3, gemma, gemma2):
/// `<gguf base name>.lora_a` / `.lora_b`, for llama the Q/K row permutation applied to `lora_b`,
/// `token_embd`'s A transposed, `general.architecture` and one `adapter.lora.alpha`;
/// a per-module scale one alpha cannot express (alpha_pattern, rsLoRA with rank_pattern) is baked
/// into that module's `lora_b`.
public enum LlamaLoRAConversion {
    public static func prepare(folder: String, reader: any CheckpointReader, plan: inout ConversionPlan, baseConfig: String?,
                               names: GGUFArchitectureNames = .llama) throws -> LlamaConversion.Prepared {
        let adapter = try PEFTLoRAConfig(folder: folder)
        if adapter.useDoRA || reader.tensors.contains(where: { $0.name.hasSuffix("lora_magnitude_vector") }) {
            throw LlamaConversion.MappingError(description: "'\(escapedForTerminal(folder))' is a DoRA adapter: llama.cpp's LoRA format has no magnitude vectors; merge it into the base model instead")
        }
        // Head counts matter to llama alone (the only converter that permutes Q/K); the others read the
        // config when there is one, for its tied embeddings.
        let config = names.permutesQK ? try LlamaConfig.read(try locateBaseConfig(folder: folder, adapter: adapter, explicit: baseConfig))
            : (try? locateBaseConfig(folder: folder, adapter: adapter, explicit: baseConfig)).flatMap { try? LlamaConfig.read($0) }
        let ranks = Dictionary(reader.tensors.compactMap { tensor -> (String, Int)? in
            guard let (module, part) = split(tensor.name), part == "lora_A.weight" || part == "lora_embedding_A" else { return nil }
            return (module, tensor.shape.first ?? 0)
        }, uniquingKeysWith: { first, _ in first })
        let trainsHead = reader.tensors.contains { split($0.name)?.0 == "lm_head" }
        if trainsHead, !names.hasOutputTensor {
            throw LlamaConversion.MappingError(description: "the adapter trains lm_head, but llama.cpp's \(names.architecture) models have no output tensor (token_embd is the output layer; convert_lora_to_gguf.py refuses this too); exclude lm_head")
        }
        if config?.tieWordEmbeddings == true, trainsHead {
            throw LlamaConversion.MappingError(description: "the adapter trains lm_head of a model with tied embeddings: the GGUF has no output.weight to apply it to (llama.cpp's converter refuses this too); untie the embeddings or exclude lm_head")
        }
        let alpha = adapter.ggufAlpha
        var baked: [String] = []
        var baseCopies = 0
        try plan.map(architecture: "\(names.architecture) LoRA") { tensor -> TensorTransform?? in
            // PEFT saves targeted embeddings whole (save_embedding_layers): base weights, not the adapter.
            if tensor.name.hasSuffix(".base_layer.weight") {
                baseCopies += 1
                return .some(nil)
            }
            guard let (module, part) = split(tensor.name), let base = names.ggufModule(module) ?? names.ggufModule("model." + module) else { return nil }
            let name = base + ".weight"
            switch part {
            case "lora_A.weight": return TensorTransform(name: name + ".lora_a")
            case "lora_embedding_A": return TensorTransform(name: name + ".lora_a", transposed: true)
            case "lora_B.weight", "lora_embedding_B":
                let rank = ranks[module] ?? adapter.rank
                let wanted = adapter.scale(module: module, rank: rank)
                let expressed = alpha / Double(rank)
                let factor = wanted / expressed
                let scale: Double? = abs(factor - 1) > 1e-12 ? factor : nil
                if scale != nil { baked.append(module) }
                let heads = names.permutesQK ? config.flatMap { LlamaNames.permutedHeads(ggufModule: base, config: $0) } : nil
                return TensorTransform(name: name + ".lora_b", rowPermutation: heads.map { RowPermutation(heads: $0) }, scale: scale)
            default: return nil
            }
        }
        var metadata = GGUFMetadata([
            GGUFKeyValue(GGUFConstants.Key.architecture, .string(names.architecture)),
            GGUFKeyValue(GGUFConstants.Key.type, .string("adapter")),
            GGUFKeyValue("adapter.type", .string("lora")),
            GGUFKeyValue("adapter.lora.alpha", .float32(Float(alpha))),
        ])
        metadata.set(GGUFConstants.Key.quantizationVersion, .uint32(GGUFConstants.quantizationVersion))
        var notes: [String] = []
        if baseCopies > 0 { notes.append("\(baseCopies) base-layer weight(s) PEFT saved with the adapter are not part of a GGUF LoRA: left out") }
        if adapter.useRSLoRA { notes.append("rsLoRA: adapter.lora.alpha = α·√r = \(Float(alpha)) so that llama.cpp's α/r equals PEFT's α/√r") }
        if !baked.isEmpty {
            notes.append("\(baked.count) module(s) have a scale one adapter.lora.alpha cannot express (alpha_pattern / rank_pattern): baked into their lora_b: \(baked.prefix(3).joined(separator: ", "))\(baked.count > 3 ? ", …" : "")")
        }
        return LlamaConversion.Prepared(metadata: CheckpointMetadata(gguf: metadata), notes: notes)
    }

    /// ("model.layers.0.self_attn.q_proj", "lora_A.weight") from a PEFT tensor name.
    static func split(_ name: String) -> (String, String)? {
        let prefix = "base_model.model."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = String(name.dropFirst(prefix.count))
        for part in ["lora_A.weight", "lora_B.weight", "lora_embedding_A", "lora_embedding_B"] where rest.hasSuffix("." + part) {
            return (String(rest.dropLast(part.count + 1)), part)
        }
        return nil
    }

    /// The base model's config.json: `--base-config`, else base_model_name_or_path when it is a local
    /// folder, else one inside the adapter folder.
    static func locateBaseConfig(folder: String, adapter: PEFTLoRAConfig, explicit: String?) throws -> String {
        if let explicit { return explicit }
        for candidate in [adapter.baseModel, folder].compactMap({ $0 }) where FolderListing.isFolder(candidate) {
            if FolderListing.names(in: candidate).contains("config.json") { return candidate }
        }
        throw LlamaConversion.MappingError(description: "the Q/K permutation needs the base model's head counts: pass --base-config with the base model's config.json (or its folder)")
    }
}
