import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Writes a llama.cpp LoRA adapter as convert_lora_to_gguf.py lays it out (formats.md §2.9):
/// `general.type = adapter`, `adapter.type = lora`, one F32 `adapter.lora.alpha`, and per module
/// `<base tensor>.lora_a` [r, in] / `.lora_b` [out, r] (token_embd: lora_a = Aᵀ [vocab, r]). Modules
/// must already carry llama.cpp names, with Q/K rows of B in llama.cpp's order.
///
/// llama.cpp's scale is alpha / rank with one alpha for the file. The alpha is the most common module
/// alpha (α, or α·√r with rsLoRA), so that most modules keep their factors bit for bit; a module whose
/// scale that alpha cannot express gets the ratio multiplied into its B (one rounding to the factor
/// dtype, exact when the ratio is a power of two) and is named in the notes. A ratio within F32's
/// precision (α·√r of rsLoRA rounded to the F32 the format stores) is not folded: the file cannot
/// state the scale more precisely than its F32 alpha.
enum GGUFAdapterWriter {
    static let embedding = "token_embd"

    /// Returns notes for the report (modules whose scale went into B).
    static func write(_ output: LoRAOutput, path: String, architecture: String, overwrite: Bool) throws -> [String] {
        guard path.hasSuffix(".gguf") else {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "a GGUF LoRA adapter is one file; name the output *.gguf")
        }
        for module in output.modules where module.kind == .convolution || (module.kind == .embedding) != (module.module == embedding) {
            throw LowRankEditError.layoutNotWritable(path: path, reason: "module '\(escapedForTerminal(module.module))' is a \(module.kind.rawValue) update, and llama.cpp LoRA adapters hold Linear projections and token_embd only; write --to peft or kohya")
        }
        let alpha = commonAlpha(output)
        var file = TensorFile(dtype: output.dtype)
        var folded: [String] = []
        for module in output.modules {
            let wanted = output.scale(module), expressed = Double(alpha) / Double(module.rank)
            var b = module.b
            if abs(wanted / expressed - 1) > Double(Float.ulpOfOne) {
                let ratio = wanted / expressed
                for i in b.elements.indices { b.elements[i] = Float(Double(b.elements[i]) * ratio) }
                folded.append(module.module)
            }
            let a = module.kind == .embedding ? module.a.transposed() : module.a
            try file.add(module.module + ".weight.lora_a", shape: [a.rows, a.columns], values: a.elements)
            try file.add(module.module + ".weight.lora_b", shape: [b.rows, b.columns], values: b.elements)
        }
        var metadata = GGUFMetadata([
            GGUFKeyValue(GGUFConstants.Key.architecture, .string(architecture)),
            GGUFKeyValue(GGUFConstants.Key.type, .string("adapter")),
            GGUFKeyValue("adapter.type", .string("lora")),
            GGUFKeyValue("adapter.lora.alpha", .float32(alpha)),
        ])
        metadata.set(GGUFConstants.Key.quantizationVersion, .uint32(GGUFConstants.quantizationVersion))
        try file.writeGGUF(to: path, metadata: metadata, overwrite: overwrite)
        guard !folded.isEmpty else { return [] }
        return ["adapter.lora.alpha \(alpha) is one value for the whole file: the scale of \(folded.count) module(s) with another α/r is multiplied into their lora_b: \(folded.prefix(3).map(escapedForTerminal).joined(separator: ", "))\(folded.count > 3 ? ", …" : "")"]
    }

    /// The most common nonzero scale × rank (ties: the first module's); 0 would mean "scale 1" to llama.cpp.
    static func commonAlpha(_ output: LoRAOutput) -> Float {
        var counts: [Float: (count: Int, first: Int)] = [:]
        for (index, module) in output.modules.enumerated() {
            let alpha = Float(output.useRSLoRA ? module.alpha * Double(module.rank).squareRoot() : module.alpha)
            guard alpha != 0, alpha.isFinite else { continue }
            let entry = counts[alpha] ?? (0, index)
            counts[alpha] = (entry.count + 1, entry.first)
        }
        let best = counts.max { ($0.value.count, -$0.value.first) < ($1.value.count, -$1.value.first) }
        return best?.key ?? Float(output.modules.first?.rank ?? 1)
    }
}
