import CheckpointCore
import CheckpointFormats

/// Writes a `LoRAOutput` in the layout of the adapter it came from.
public enum AdapterOutputWriter {
    /// Returns the files written. PEFT: `path` is a folder; kohya: a .safetensors file.
    @discardableResult
    public static func write(_ output: LoRAOutput, like source: Adapter, to path: String, overwrite: Bool,
                             kohyaMetadata: [(key: String, value: String)] = []) throws -> [String] {
        switch source.format {
        case .peft:
            try PEFTAdapterWriter.write(output, folder: path, template: try AdapterSource.peftConfigJSON(source), overwrite: overwrite)
            return [Paths.join(path, "adapter_model.safetensors"), Paths.join(path, "adapter_config.json")]
        case .kohya:
            guard path.hasSuffix(".safetensors") else {
                throw LowRankEditError.layoutNotWritable(path: path, reason: "a kohya adapter is one .safetensors file; name the output *.safetensors")
            }
            try Folders.create(Paths.folder(of: path))
            try KohyaAdapterWriter.write(output, path: path, metadata: kohyaMetadata, overwrite: overwrite)
            return [path]
        case .melora:
            throw LowRankEditError.layoutNotWritable(path: path, reason: "a plain LoRA cannot be written in a MELoRA layout; use ckpt melora to re-split it")
        case .gguf:
            throw LowRankEditError.layoutNotWritable(path: path, reason: "writing GGUF LoRA adapters from here is not supported; write a PEFT folder and convert it with ckpt convert ADAPTER_DIR out.gguf --arch llama")
        }
    }
}
