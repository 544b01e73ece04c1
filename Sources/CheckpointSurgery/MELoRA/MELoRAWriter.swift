import CheckpointCore
import CheckpointFormats

/// Writes MELoRA blocks (scale 1 in every block) in either layout the loaders read.
public enum MELoRAWriter {
    public enum Naming: String, Sendable, CaseIterable {
        /// A PEFT-style folder: `base_model.model.<module>.lora_A.<i>.weight`, config lists r and lora_alpha.
        case official
        /// One file: `<module>.weight_a.<i>` / `.weight_b.<i>`; load with lora_scaler (--melora-scale) 1.
        case mytransformers
    }

    public static func write(_ split: MELoRASplit, naming: Naming, to path: String, dtype: DType, overwrite: Bool) throws {
        try write(split.modules.map { ($0.module, $0.blocks) }, naming: naming, to: path, dtype: dtype, overwrite: overwrite)
    }

    /// Blocks must have scale 1 (the scale baked into B).
    public static func write(_ modules: [(module: String, blocks: [ModuleDelta.Block])], naming: Naming, to path: String, dtype: DType, overwrite: Bool) throws {
        var file = TensorFile(dtype: dtype)
        let blockRanks = modules.map { $0.blocks.map { $0.a.rows } }
        switch naming {
        case .official:
            guard let first = blockRanks.first, blockRanks.allSatisfy({ $0 == first }) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "the official MELoRA layout has one list of block ranks for every module, but the modules got different block ranks; write the MyTransformers layout (ckpt melora --naming mytransformers), the dense-equivalent LoRA (ckpt melora --as-lora), or give every block the same rank (--rank)")
            }
            for module in modules {
                for (i, block) in module.blocks.enumerated() {
                    try file.add(PEFTAdapterWriter.prefix + module.module + ".lora_A.\(i).weight", shape: [block.a.rows, block.a.columns], values: block.a.elements)
                    try file.add(PEFTAdapterWriter.prefix + module.module + ".lora_B.\(i).weight", shape: [block.b.rows, block.b.columns], values: block.b.elements)
                }
            }
            try Folders.create(path)
            try file.write(to: Paths.join(path, "adapter_model.safetensors"), metadata: [("format", "pt")], overwrite: overwrite)
            let ranks = JSONValue.array(first.map { .number(String($0)) })
            let config = JSONValue.object([JSONMember("peft_type", .string("MELORA")), JSONMember("r", ranks), JSONMember("lora_alpha", ranks),
                                           JSONMember("mode", .string("melora")),
                                           JSONMember("target_modules", .array(modules.map { .string($0.module) }))])
            try AtomicOutputText(path: Paths.join(path, "adapter_config.json")).write(JSONEmitter(style: .python(indent: 2)).text(config) + "\n", overwrite: overwrite)
        case .mytransformers:
            for module in modules {
                for (i, block) in module.blocks.enumerated() {
                    try file.add(module.module + ".weight_a.\(i)", shape: [block.a.rows, block.a.columns], values: block.a.elements)
                    try file.add(module.module + ".weight_b.\(i)", shape: [block.b.rows, block.b.columns], values: block.b.elements)
                }
            }
            try Folders.create(Paths.folder(of: path))
            try file.write(to: path, metadata: [("format", "pt"), ("lora_scaler", "1")], overwrite: overwrite)
        }
    }
}
