import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Adapters with Hugging Face module names (PEFT, MELoRA, kohya's flattened names) applied to a GGUF
/// base whose tensors carry llama.cpp's names: each module is renamed as llama.cpp's converter renames
/// the base weight of that architecture (`model.layers.0.self_attn.q_proj` → `blk.0.attn_q`), and for
/// a llama base the rows of Q's and K's B (and of a per-output DoRA magnitude) get the converter's
/// rotary row permutation, so that ΔW lands on the rows the converter moved W's rows to. A row
/// permutation moves values without arithmetic, so the merge gives the same bits as merging into the
/// Hugging Face base and converting afterwards.
enum GGUFBaseMapping {
    /// `adapters` with HF-named modules mapped onto `base`'s llama.cpp names, and GGUF adapters meeting
    /// a Hugging Face-named base named back (`GGUFAdapterOnHFBase`); unchanged otherwise. Refuses an
    /// architecture whose names ckpt does not know, listing those it does, and an adapter that declares
    /// an architecture other than a GGUF base's, naming both.
    static func adapt(_ adapters: [Adapter], base: any CheckpointReader, untie: Bool) throws -> [Adapter] {
        let llamaCppBase = BaseNames.isLlamaCppNamed(base.tensors)
        let declared = llamaCppBase ? base.metadata.gguf.flatMap { GGUFArchitectureSource.declared(by: $0, file: base.path) } : nil
        // GGUF adapters here; Hugging Face-named ones once the base's architecture is known to be mapped.
        for adapter in adapters where adapter.format == .gguf {
            _ = try GGUFArchitectureSource.agreeing(try AdapterSource.architecture(adapter), declared)
        }
        let adapters = try adapters.map { adapter in
            !llamaCppBase && adapter.format == .gguf ? try GGUFAdapterOnHFBase.map(adapter, base: base) : adapter
        }
        guard llamaCppBase, adapters.contains(where: needsMapping) else { return adapters }
        guard let gguf = base.metadata.gguf else {
            throw SurgeryError.unsupported(path: base.path, what: "merging an adapter with Hugging Face module names into a base with llama.cpp tensor names but no GGUF metadata (the architecture decides the names and the Q/K permutation); merge into the GGUF file itself")
        }
        let architecture = gguf[GGUFConstants.Key.architecture]?.text ?? "(none)"
        guard let names = GGUFArchitectureNames(architecture: architecture) else {
            let kinds = adapters.filter(needsMapping).map { "\(escapedForTerminal($0.path)) (\($0.format.rawValue))" }.joined(separator: ", ")
            throw SurgeryError.unsupported(path: base.path, what: "mapping the Hugging Face module names of \(kinds) onto llama.cpp names of GGUF architecture '\(escapedForTerminal(architecture))' (ckpt knows \(GGUFArchitectureNames.supported.joined(separator: ", ")); a GGUF LoRA adapter, whose tensors already carry llama.cpp names, merges into any base of its own architecture)")
        }
        for adapter in adapters where needsMapping(adapter) {
            _ = try GGUFArchitectureSource.agreeing(try AdapterSource.architecture(adapter), declared)
        }
        let config = names.permutesQK ? try LlamaConfig(gguf: gguf, file: base.path) : nil
        let kohyaNames = KohyaNames(base: base.tensors, names: names)
        return try adapters.map { adapter in
            needsMapping(adapter) ? try map(adapter, names: names, config: config, kohya: kohyaNames, untie: untie) : adapter
        }
    }

    /// Adapters named after Hugging Face modules; GGUF adapters already name base tensors.
    static func needsMapping(_ adapter: Adapter) -> Bool { adapter.format != .gguf }

    /// kohya's flattened module names (`.` → `_`, any prefix) → llama.cpp module, recovered from the
    /// Hugging Face paths of the base's own tensors: the longest flattened path the name ends with.
    struct KohyaNames {
        let byFlattened: [String: String]

        init(base: [TensorInfo], names: GGUFArchitectureNames) {
            var table: [String: String] = [:]
            for info in base where info.name.hasSuffix(".weight") {
                let module = String(info.name.dropLast(".weight".count))
                guard let hf = names.hfModule(module) else { continue }
                table[String(hf.map { $0 == "." ? "_" : $0 })] = module
            }
            // A tied base has no output.weight; the plan then refuses or unties `output` by its name.
            if table["lm_head"] == nil && names.hasOutputTensor { table["lm_head"] = "output" }
            byFlattened = table
        }

        func ggufModule(_ flattened: String) -> String? { BaseNames.flattenedSuffix(of: flattened, in: byFlattened) }
    }

    static func map(_ adapter: Adapter, names: GGUFArchitectureNames, config: LlamaConfig?, kohya: KohyaNames, untie: Bool) throws -> Adapter {
        // Gemma's output is always token_embd: updates of either are refused by name here.
        func ggufModule(_ module: String) throws -> String? {
            if !names.hasOutputTensor && (module == "lm_head" || module.hasSuffix(".lm_head") || module.hasSuffix("_lm_head")) {
                throw SurgeryError.unsupported(path: adapter.path, what: "\(module): an update of the output layer of a \(names.architecture) GGUF (llama.cpp always uses token_embd.weight as its output and reads no output.weight; drop the module from the adapter)")
            }
            let name = adapter.flattenedNames ? kohya.ggufModule(module) : names.ggufModule(module) ?? names.ggufModule("model." + module)
            if name == "token_embd" && !names.hasOutputTensor {
                // The tied-embedding rule would offer --untie, which this architecture cannot take.
                throw SurgeryError.unsupported(path: adapter.path, what: "\(module): an update of token_embd.weight of a \(names.architecture) GGUF, which llama.cpp also uses as the output layer, so both would change; " + (untie ? "--untie cannot separate them (llama.cpp reads no output.weight for \(names.architecture) and would refuse the extra tensor)" : "--untie cannot help here (llama.cpp reads no output.weight for \(names.architecture)); drop the module from the adapter"))
            }
            return name
        }
        var mapped = adapter
        // Mapped names are base names; a module left unmapped then matches nothing, and says so.
        mapped.flattenedNames = false
        var permuted = 0
        mapped.deltas = try adapter.deltas.map { delta in
            guard let name = try ggufModule(delta.module) else { return delta }
            var result = delta
            result.module = name
            guard let config, let heads = LlamaNames.permutedHeads(ggufModule: name, config: config) else { return result }
            let permutation = RowPermutation(heads: heads)
            guard delta.kind == .linear, !delta.transposedInBase, delta.blocks.count == 1, let block = delta.blocks.first,
                  block.rowOffset == 0, permutation.fits(rows: delta.outFeatures),
                  // The loaders check these against the output features; the permutation divides by them.
                  (delta.bias?.count ?? delta.outFeatures) == delta.outFeatures,
                  delta.magnitude.map({ $0.axis != .perOutput || $0.values.count == delta.outFeatures }) ?? true else {
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
            guard let name = try ggufModule(replacement.module) else { return replacement }
            if let config, LlamaNames.permutedHeads(ggufModule: name, config: config) != nil {
                throw SurgeryError.unsupported(path: adapter.path, what: "modules_to_save of the rotary projection \(replacement.module) into a GGUF base (its rows would need llama.cpp's permutation)")
            }
            if names.isOffsetNorm(ggufModule: name) {
                throw SurgeryError.unsupported(path: adapter.path, what: "modules_to_save of the norm \(replacement.module) into a \(names.architecture) GGUF base (llama.cpp's converter stores Gemma norms as 1 + w)")
            }
            var result = replacement
            result.module = name
            return result
        }
        let how = adapter.flattenedNames ? "kohya names matched against the base's Hugging Face paths" : "gguf-py tensor map"
        mapped.notes.append("module names mapped to llama.cpp's (\(names.architecture), \(how))" + (permuted > 0 ? "; B rows of \(permuted) Q/K module(s) permuted as llama.cpp's converter permutes W (\(config?.heads ?? 0) heads, \(config?.kvHeads ?? 0) KV heads)" : ""))
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
