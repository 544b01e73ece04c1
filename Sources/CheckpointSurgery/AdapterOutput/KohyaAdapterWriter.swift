import CheckpointCore
import CheckpointFormats

/// Writes a kohya-ss LoRA file: `<module>.lora_down.weight` [k, in(, kh, kw)], `.lora_up.weight`
/// [out, k(, 1, 1)] and `.alpha`, a scalar with kohya's scale rule alpha / k. The alpha is stored in
/// the factors' dtype, as kohya saves it, when that holds it exactly, and in F32 otherwise (an alpha of
/// 12.3 in bf16 would change the scale). An rsLoRA module gets α·√k, so that alpha / k is its α/√k.
/// An embedding becomes the plain product kohya applies to the (vocab × dim) table: up = Aᵀ, down = Bᵀ.
public enum KohyaAdapterWriter {
    public static func write(_ output: LoRAOutput, path: String, metadata: [(key: String, value: String)], overwrite: Bool) throws {
        var file = TensorFile(dtype: output.dtype)
        for module in output.modules {
            let kernel = module.kind == .convolution ? module.kernel : []
            let kernelSize = max(kernel.reduce(1, *), 1)
            let (up, down) = module.kind == .embedding ? (module.a.transposed(), module.b.transposed()) : (module.b, module.a)
            try file.add(module.module + ".lora_down.weight", shape: [module.rank, down.columns / kernelSize] + kernel, values: down.elements)
            try file.add(module.module + ".lora_up.weight", shape: [up.rows, module.rank] + kernel.map { _ in 1 }, values: up.elements)
            let alpha = Float(output.useRSLoRA ? module.alpha * Double(module.rank).squareRoot() : module.alpha)
            try file.add(module.module + ".alpha", shape: [], values: [alpha], dtype: holdsExactly(alpha, output.dtype) ? output.dtype : .f32)
        }
        for tensor in output.passThrough { try file.copy(tensor) }
        try file.write(to: path, metadata: metadata, overwrite: overwrite)
    }

    /// Whether `value` survives a round trip through `dtype`.
    static func holdsExactly(_ value: Float, _ dtype: DType) -> Bool {
        guard dtype != .f32 else { return true }
        var stored = [UInt8](repeating: 0, count: 8), back: Float = .nan
        do {
            try withUnsafeBytes(of: value) { source in
                try stored.withUnsafeMutableBytes { try ElementConverter.convert(source, from: .f32, into: $0, to: dtype, count: 1) }
            }
            try stored.withUnsafeBytes { source in
                try withUnsafeMutableBytes(of: &back) { try ElementConverter.convert(source, from: dtype, into: $0, to: .f32, count: 1) }
            }
        } catch {
            return false
        }
        return back == value
    }
}
