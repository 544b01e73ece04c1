import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Adapters with Hugging Face module names (PEFT, MELoRA) applied to a llama GGUF base, whose tensors
/// carry llama.cpp's names: each module is renamed as llama.cpp's converter renames the base weight
/// (`model.layers.0.self_attn.q_proj` → `blk.0.attn_q`), and for Q and K the rows of B (and of a
/// per-output DoRA magnitude) get the converter's rotary row permutation, so that ΔW lands on the
/// rows the converter moved W's rows to. A row permutation moves values without arithmetic, so the
/// merge gives the same bits as merging into the Hugging Face base and converting afterwards.
enum LlamaBaseMapping {
    /// `adapters` with HF-named modules mapped onto `base`'s llama.cpp names; unchanged when the base
    /// is not a llama.cpp-named GGUF llama or an adapter already uses its names.
    static func adapt(_ adapters: [Adapter], base: any CheckpointReader) throws -> [Adapter] {
        guard let gguf = base.metadata.gguf, BaseNames(tensors: base.tensors, tieWordEmbeddings: nil).isLlamaCppNamed,
              adapters.contains(where: needsMapping) else { return adapters }
        guard gguf[GGUFConstants.Key.architecture]?.text == "llama" else { return adapters }
        let config = try LlamaConfig(gguf: gguf, file: base.path)
        return try adapters.map { adapter in needsMapping(adapter) ? try map(adapter, config: config) : adapter }
    }

    /// PEFT-style dotted module paths; GGUF adapters already name base tensors, kohya names are flattened.
    static func needsMapping(_ adapter: Adapter) -> Bool {
        adapter.format != .gguf && !adapter.flattenedNames
    }

    /// Whether `module` already has a llama.cpp name (mapped, or from a GGUF adapter).
    static func isLlamaCppModule(_ module: String) -> Bool {
        module.hasPrefix("blk.") || LlamaNames.hfModule(module) != nil
    }

    static func ggufModule(_ module: String) -> String? {
        LlamaNames.ggufModule(module) ?? LlamaNames.ggufModule("model." + module)
    }

    static func map(_ adapter: Adapter, config: LlamaConfig) throws -> Adapter {
        var mapped = adapter
        var permuted = 0
        mapped.deltas = try adapter.deltas.map { delta in
            guard let name = ggufModule(delta.module) else { return delta }
            var result = delta
            result.module = name
            guard let heads = LlamaNames.permutedHeads(ggufModule: name, config: config) else { return result }
            let permutation = RowPermutation(heads: heads)
            guard delta.kind == .linear, !delta.transposedInBase, delta.blocks.count == 1, let block = delta.blocks.first,
                  block.rowOffset == 0, permutation.fits(rows: delta.outFeatures) else {
                throw SurgeryError.unsupported(path: adapter.path, what: "\(delta.module): a \(delta.blocks.count)-block or non-Linear update of a rotary projection (llama.cpp permutes its rows across the whole tensor, for \(heads) heads)")
            }
            result.blocks[0].b = try permuteRows(block.b, permutation)
            if let magnitude = delta.magnitude, magnitude.axis == .perOutput {
                let rows = magnitude.values.count
                result.magnitude?.values = (0..<rows).map { magnitude.values[permutation.sourceRow($0, rows: rows)] }
            }
            if let bias = delta.bias {
                result.bias = (0..<bias.count).map { bias[permutation.sourceRow($0, rows: bias.count)] }
            }
            permuted += 1
            return result
        }
        mapped.replacements = try adapter.replacements.map { replacement in
            guard let name = ggufModule(replacement.module) else { return replacement }
            if LlamaNames.permutedHeads(ggufModule: name, config: config) != nil {
                throw SurgeryError.unsupported(path: adapter.path, what: "modules_to_save of the rotary projection \(replacement.module) into a GGUF base (its rows would need llama.cpp's permutation)")
            }
            var result = replacement
            result.module = name
            return result
        }
        mapped.notes.append("module names mapped to llama.cpp's (gguf-py tensor map)" + (permuted > 0 ? "; B rows of \(permuted) Q/K module(s) permuted as llama.cpp's converter permutes W (\(config.heads) heads, \(config.kvHeads) KV heads)" : ""))
        return mapped
    }

    static func permuteRows(_ matrix: Matrix, _ permutation: RowPermutation) throws -> Matrix {
        let (rows, columns) = (matrix.rows, matrix.columns)
        var elements = [Float](repeating: 0, count: matrix.elements.count)
        for row in 0..<rows {
            let source = permutation.sourceRow(row, rows: rows)
            for column in 0..<columns { elements[row * columns + column] = matrix.elements[source * columns + column] }
        }
        return try Matrix(rows: rows, columns: columns, elements: elements)
    }
}
