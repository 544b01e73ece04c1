import CheckpointCore
import CheckpointFormats

/// Tells adapter layouts apart by their files and tensor names.
public enum AdapterDetection {
    public static func detect(path: String) throws -> AdapterFormat {
        if FolderListing.isFolder(path) {
            let config = Paths.join(path, "adapter_config.json")
            guard (try? ReadOnlyFile(path: config)) != nil else {
                throw SurgeryError.adapterNotRecognised(path: path, reason: "a folder without adapter_config.json")
            }
            let parsed = try PEFTConfig.read(path: config)
            return parsed.isMELoRA ? .melora : .peft
        }
        if Paths.baseName(of: path).hasPrefix("adapter_model."), (try? ReadOnlyFile(path: Paths.join(Paths.folder(of: path), "adapter_config.json"))) != nil {
            return try detect(path: Paths.folder(of: path))
        }
        let reader = try Checkpoint.open(path)
        if GGUFAdapterLoader.isAdapter(reader) { return .gguf }
        let names = reader.tensors.map(\.name)
        if names.contains(where: { $0.hasSuffix(".lora_down.weight") || $0.hasSuffix(".lora_up.weight") }) { return .kohya }
        if names.contains(where: { MELoRANames.myTransformers($0) != nil }) { return .melora }
        if names.contains(where: { $0.hasSuffix(".lora_a") || $0.hasSuffix(".lora_b") }) {
            throw SurgeryError.adapterNotRecognised(path: path, reason: "lora_a / lora_b tensors without general.type = adapter (a GGUF LoRA needs its adapter metadata: alpha)")
        }
        if names.contains(where: { $0.contains(".lora_A.") || $0.contains(".lora_B.") || $0.contains("lora_embedding_") }) {
            throw SurgeryError.adapterNotRecognised(path: path, reason: "PEFT tensor names without adapter_config.json beside them (r and lora_alpha are needed for the scale); pass the folder holding both")
        }
        throw SurgeryError.adapterNotRecognised(path: path, reason: "no lora_A/lora_B, lora_down/lora_up or weight_a/weight_b tensors")
    }
}
