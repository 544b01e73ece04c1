import CheckpointCore

/// `ckpt convert ADAPTER.gguf OUT_DIR/ --arch ARCH`: a llama.cpp LoRA adapter back to a PEFT folder
/// (`adapter_model.safetensors` + `adapter_config.json`): PEFT names from the architecture's table,
/// for llama the lora_b rows of Q/K un-permuted,
/// token_embd's A transposed back, and llama.cpp's scale (alpha / each tensor's rank; 1 when alpha is
/// 0) expressed with lora_alpha, rank_pattern and alpha_pattern.
public enum LlamaLoRAToPEFT {
    public static func prepare(reader: any CheckpointReader, plan: inout ConversionPlan, baseConfig: String?,
                               names: GGUFArchitectureNames = .llama) throws -> LlamaConversion.Prepared {
        guard let metadata = reader.metadata.gguf else { return LlamaConversion.Prepared(metadata: CheckpointMetadata(), notes: []) }
        let adapter = try GGUFLoRAAdapter(metadata: metadata, tensors: reader.tensors, file: reader.path)
        var config: LlamaConfig?
        if names.permutesQK {
            guard let baseConfig else {
                throw LlamaConversion.MappingError(description: "the Q/K rows of lora_b are un-permuted with the base model's head counts: pass --base-config with the base model's config.json (or its folder)")
            }
            config = try LlamaConfig.read(baseConfig)
        }
        var ranks: [(module: String, rank: Int)] = []
        for pair in adapter.pairs {
            guard let module = names.hfModule(String(pair.base.dropLast(".weight".count))) else {
                throw ConversionPlan.PlanError.unmappedTensor(tensor: pair.base, architecture: "\(names.architecture) LoRA")
            }
            ranks.append((module, pair.rank))
        }
        try plan.map(architecture: "\(names.architecture) LoRA") { tensor -> TensorTransform?? in
            if tensor.name.hasSuffix("_norm.weight") { return .some(nil) }
            let isA = tensor.name.hasSuffix(".lora_a")
            let base = String(tensor.name.dropLast(".lora_a".count))
            guard base.hasSuffix(".weight"), let module = names.hfModule(String(base.dropLast(".weight".count))) else { return nil }
            let prefix = "base_model.model." + module
            if base == "token_embd.weight" {
                return isA ? TensorTransform(name: prefix + ".lora_embedding_A", transposed: true) : TensorTransform(name: prefix + ".lora_embedding_B")
            }
            if isA { return TensorTransform(name: prefix + ".lora_A.weight") }
            let heads = config.flatMap { LlamaNames.permutedHeads(ggufModule: String(base.dropLast(".weight".count)), config: $0) }
            return TensorTransform(name: prefix + ".lora_B.weight", rowPermutation: heads.map { RowPermutation(heads: $0, inverse: true) })
        }
        // The most common rank is `r`; others go to rank_pattern (full module paths match exactly).
        var counts: [Int: Int] = [:]
        for entry in ranks { counts[entry.rank, default: 0] += 1 }
        let rank = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? 0
        let alpha = Double(adapter.alpha)
        var rankPattern: [JSONMember] = []
        var alphaPattern: [JSONMember] = []
        for entry in ranks where entry.rank != rank {
            rankPattern.append(JSONMember(entry.module, .number(String(entry.rank))))
            // alpha 0 means scale 1 in llama.cpp: PEFT needs alpha = rank for that.
            if alpha == 0 { alphaPattern.append(JSONMember(entry.module, .number(String(entry.rank)))) }
        }
        let modules = Set(ranks.map { String($0.module.split(separator: ".").last ?? "") }).sorted()
        func number(_ value: Double) -> JSONValue {
            value == value.rounded() && abs(value) < 1e15 ? .number(String(Int(value))) : .number(String(value))
        }
        let json = JSONValue.object([
            JSONMember("alpha_pattern", .object(alphaPattern)),
            JSONMember("base_model_name_or_path", .null),
            JSONMember("bias", .string("none")),
            JSONMember("fan_in_fan_out", .bool(false)),
            JSONMember("inference_mode", .bool(true)),
            JSONMember("lora_alpha", number(alpha == 0 ? Double(rank) : alpha)),
            JSONMember("lora_dropout", .number("0.0")),
            JSONMember("modules_to_save", .null),
            JSONMember("peft_type", .string("LORA")),
            JSONMember("r", .number(String(rank))),
            JSONMember("rank_pattern", .object(rankPattern)),
            JSONMember("target_modules", .array(modules.map { .string($0) })),
            JSONMember("task_type", .string("CAUSAL_LM")),
            JSONMember("use_dora", .bool(false)),
            JSONMember("use_rslora", .bool(false)),
        ])
        var prepared = LlamaConversion.Prepared(metadata: CheckpointMetadata(safetensors: [("format", "pt")]), notes: [])
        prepared.sidecar = ("adapter_config.json", JSONEmitter(style: .python(indent: 2)).bytes(json) + [0x0A])
        prepared.outputName = "adapter_model.safetensors"
        return prepared
    }
}
