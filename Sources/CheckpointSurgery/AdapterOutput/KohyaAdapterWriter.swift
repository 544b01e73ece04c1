import CheckpointCore
import CheckpointFormats

/// Writes a kohya-ss LoRA file: `<module>.lora_down.weight` [k, in(, kh, kw)], `.lora_up.weight`
/// [out, k(, 1, 1)] and `.alpha` (a scalar in the factors' dtype, as kohya saves it).
public enum KohyaAdapterWriter {
    public static func write(_ output: LoRAOutput, path: String, metadata: [(key: String, value: String)], overwrite: Bool) throws {
        var file = TensorFile(dtype: output.dtype)
        for module in output.modules {
            let kernel = module.kind == .convolution ? module.kernel : []
            let kernelSize = max(kernel.reduce(1, *), 1)
            try file.add(module.module + ".lora_down.weight", shape: [module.rank, module.a.columns / kernelSize] + kernel, values: module.a.elements)
            try file.add(module.module + ".lora_up.weight", shape: [module.b.rows, module.rank] + kernel.map { _ in 1 }, values: module.b.elements)
            try file.add(module.module + ".alpha", shape: [], values: [Float(module.alpha)])
        }
        for tensor in output.passThrough { try file.copy(tensor) }
        try file.write(to: path, metadata: metadata, overwrite: overwrite)
    }
}
