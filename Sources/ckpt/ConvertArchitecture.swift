import CheckpointCore
import CheckpointFormats

extension ConvertCommand {
    /// `--arch llama`: picks the direction (HF → GGUF, GGUF → HF, PEFT → GGUF LoRA, GGUF LoRA → PEFT),
    /// maps the plan, and for a PEFT output points `target` at `OUT/adapter_model.safetensors`.
    /// Returns nil without `--arch`.
    func prepareArchitecture(reader: any CheckpointReader, plan: inout ConversionPlan, target: inout OutputTarget) throws -> LlamaConversion.Prepared? {
        guard let arch else {
            if vocabFrom != nil || baseConfig != nil { throw UsageError("--vocab-from and --base-config go with --arch llama") }
            return nil
        }
        guard arch.lowercased() == "llama" else { throw UsageError("--arch '\(arch)': ckpt maps the llama family (llama, mistral); pass --arch llama") }
        let prepared: LlamaConversion.Prepared
        if let gguf = reader.metadata.gguf, GGUFLoRAAdapter.isAdapter(gguf), !target.storesBlockTypes {
            prepared = try LlamaLoRAToPEFT.prepare(reader: reader, plan: &plan, baseConfig: baseConfig)
        } else if PEFTLoRAConfig.isAdapterFolder(input) {
            guard target.storesBlockTypes else { throw UsageError("a PEFT adapter folder converts to a GGUF LoRA adapter: write a .gguf output") }
            prepared = try LlamaLoRAConversion.prepare(folder: input, reader: reader, plan: &plan, baseConfig: baseConfig)
        } else {
            prepared = try LlamaConversion.prepare(input: input, reader: reader, toGGUF: target.storesBlockTypes, plan: &plan, vocabFrom: vocabFrom)
        }
        if let name = prepared.outputName {
            guard case let .shardedSafetensors(folder, _, Int.max) = target else {
                throw UsageError("a GGUF LoRA converts to a PEFT adapter folder: give OUT as a folder (ending in /), without --shard-size")
            }
            try Folders.create(folder)
            target = .safetensors(path: Paths.join(folder, name))
        }
        return prepared
    }
}
