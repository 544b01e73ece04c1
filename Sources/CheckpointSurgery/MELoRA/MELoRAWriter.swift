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
        var file = TensorFile(dtype: dtype)
        switch naming {
        case .official:
            guard let first = split.results.first?.blockRanks, split.results.allSatisfy({ $0.blockRanks == first }) else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "the official MELoRA layout has one list of block ranks for every module, but the modules got different block ranks; use --naming mytransformers or --as-lora")
            }
            for module in split.modules {
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
                                           JSONMember("target_modules", .array(split.modules.map { .string($0.module) }))])
            try AtomicOutputText(path: Paths.join(path, "adapter_config.json")).write(JSONEmitter(style: .python(indent: 2)).text(config) + "\n", overwrite: overwrite)
        case .mytransformers:
            for module in split.modules {
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
