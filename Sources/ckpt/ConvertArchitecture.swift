import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

extension ConvertCommand {
    /// `--arch ARCH` (llama for models; llama, qwen2, qwen3, gemma, gemma2 for LoRA adapters): picks the direction (HF → GGUF, GGUF → HF, PEFT → GGUF LoRA, GGUF LoRA → PEFT),
    /// maps the plan, and for a PEFT output points `target` at `OUT/adapter_model.safetensors`.
    /// Returns nil without `--arch`.
    func prepareArchitecture(reader: any CheckpointReader, plan: inout ConversionPlan, target: inout OutputTarget) throws -> LlamaConversion.Prepared? {
        guard let arch else {
            if vocabFrom != nil || baseConfig != nil { throw UsageError("--vocab-from and --base-config go with --arch llama") }
            return nil
        }
        let adapterGGUF = reader.metadata.gguf.map(GGUFLoRAAdapter.isAdapter) ?? false
        let adapterFolder = PEFTLoRAConfig.isAdapterFolder(input)
        // convert_hf_to_gguf.py converts Mistral as llama.
        let requested = arch.lowercased() == "mistral" ? "llama" : arch.lowercased()
        guard let names = GGUFArchitectureNames(architecture: requested) else {
            throw UsageError("--arch '\(arch)' is not one ckpt maps: \(GGUFArchitectureNames.supported.joined(separator: ", ")) (mistral as llama); whole models take --arch llama, the others convert LoRA adapters")
        }
        guard requested == "llama" || adapterGGUF || adapterFolder else {
            throw UsageError("--arch \(requested) converts LoRA adapters only (a PEFT folder or a GGUF LoRA); whole models are mapped for llama (llama, mistral)")
        }
        // What the input and --base-config declare must be the architecture asked for.
        let asked = GGUFArchitectureSource(architecture: names.architecture, evidence: "--arch \(arch)")
        var declared: [GGUFArchitectureSource?] = []
        if let gguf = reader.metadata.gguf { declared.append(GGUFArchitectureSource.declared(by: gguf, file: input)) }
        if adapterFolder { declared.append(AdapterSource.architecture(peftFolder: input)) }
        if let baseConfig, !baseConfig.lowercased().hasSuffix(".gguf") { declared.append(try GGUFArchitectureSource.declared(byConfigAt: baseConfig)) }
        for source in declared { _ = try GGUFArchitectureSource.agreeing(asked, source) }
        let prepared: LlamaConversion.Prepared
        if adapterGGUF, !target.storesBlockTypes {
            prepared = try LlamaLoRAToPEFT.prepare(reader: reader, plan: &plan, baseConfig: baseConfig, names: names)
        } else if adapterFolder {
            guard target.storesBlockTypes else { throw UsageError("a PEFT adapter folder converts to a GGUF LoRA adapter: write a .gguf output") }
            prepared = try LlamaLoRAConversion.prepare(folder: input, reader: reader, plan: &plan, baseConfig: baseConfig, names: names)
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
