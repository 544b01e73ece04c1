import CheckpointCore
import CheckpointFormats

/// Facts about an adapter's files that rewriting it needs and the in-memory `Adapter` does not keep:
/// the factors' dtype and PEFT's adapter_config.json as written.
public enum AdapterSource {
    /// The dtype of the adapter's first factor tensor (f32 when none is found).
    public static func factorDType(_ adapter: Adapter) throws -> DType {
        let weights = adapter.format == .kohya ? adapter.path : try PEFTAdapterLoader.weightsFile(in: adapter.path).weights
        let reader = try Checkpoint.open(weights)
        let factor = reader.tensors.first { info in
            ["lora_A", "lora_B", "lora_down", "lora_up", "lora_embedding", "weight_a", "weight_b"].contains { info.name.contains($0) }
        }
        return factor?.dtype.isFloatingPoint == true ? factor?.dtype ?? .f32 : .f32
    }

    /// adapter_config.json of a PEFT adapter, parsed (nil for other layouts).
    public static func peftConfigJSON(_ adapter: Adapter) throws -> JSONValue? {
        guard adapter.format == .peft || (adapter.format == .melora && FolderListing.isFolder(adapter.path)) else { return nil }
        let path = Paths.join(adapter.path, "adapter_config.json")
        let file = try ReadOnlyFile(path: path)
        guard file.size <= 16 << 20 else { throw SurgeryError.adapterConfig(path: path, message: "larger than 16 MiB; not an adapter config") }
        return try JSONParser.parse(try file.read(at: 0, count: file.size))
    }

    /// Whether the adapter scales by α/√r (PEFT `use_rslora`).
    public static func usesRSLoRA(_ adapter: Adapter) throws -> Bool {
        guard adapter.format == .peft else { return false }
        return try PEFTConfig.read(path: Paths.join(adapter.path, "adapter_config.json")).useRSLoRA
    }

    /// The llama.cpp architecture the adapter itself declares: a GGUF adapter's `general.architecture`,
    /// or the model class PEFT recorded in adapter_config.json's `auto_mapping.base_model_class` (written
    /// when the adapter was made without a task type). `base_model_name_or_path` is a name or a path on
    /// another machine, so it is not used. Nil when the adapter says nothing.
    public static func architecture(_ adapter: Adapter) throws -> GGUFArchitectureSource? {
        if adapter.format == .gguf {
            let reader = try Checkpoint.open(adapter.path)
            return reader.metadata.gguf.flatMap { GGUFArchitectureSource.declared(by: $0, file: adapter.path) }
        }
        guard adapter.format == .peft || adapter.format == .melora else { return nil }
        return architecture(peftFolder: adapter.path)
    }

    /// `auto_mapping.base_model_class` of the adapter_config.json in `folder`, as an architecture (nil
    /// without one; a PEFT adapter given by its weights file has no config beside it to ask).
    public static func architecture(peftFolder folder: String) -> GGUFArchitectureSource? {
        let file = Paths.join(folder, "adapter_config.json")
        guard FolderListing.isFolder(folder), let handle = try? ReadOnlyFile(path: file), handle.size <= 16 << 20,
              let bytes = try? handle.read(at: 0, count: handle.size), let json = try? JSONParser.parse(bytes),
              let name = json["auto_mapping"]?["base_model_class"]?.stringValue else { return nil }
        return GGUFArchitectureSource(architecture: GGUFArchitectureSource.architecture(ofClass: name),
                                      evidence: "'\(escapedForTerminal(file))' (auto_mapping.base_model_class: \(escapedForTerminal(name)))")
    }
}
