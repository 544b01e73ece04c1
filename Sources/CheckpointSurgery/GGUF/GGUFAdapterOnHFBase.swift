import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// A llama.cpp LoRA adapter (GGUF) applied to a base with Hugging Face names: each module is named
/// back through the name table of the adapter's `general.architecture` (`blk.0.attn_q` →
/// `model.layers.0.self_attn.q_proj`), and for llama the rows of Q's and K's B get the inverse of the
/// converter's rotary permutation, with the head counts from the base's config.json. Both are
/// reorders, so the merge gives the bits of merging the PEFT adapter the GGUF one was made from.
enum GGUFAdapterOnHFBase {
    /// The base's architecture: the config.json in its folder or beside its file, when readable.
    static func baseArchitecture(_ base: any CheckpointReader) -> (source: GGUFArchitectureSource?, config: String) {
        let folder = FolderListing.isFolder(base.path) ? base.path : Paths.folder(of: base.path)
        let config = Paths.join(folder, "config.json")
        return ((try? GGUFArchitectureSource.declared(byConfigAt: config)) ?? nil, config)
    }

    static func map(_ adapter: Adapter, base: any CheckpointReader) throws -> Adapter {
        let (baseSource, configPath) = baseArchitecture(base)
        guard let source = try GGUFArchitectureSource.agreeing(try AdapterSource.architecture(adapter), baseSource) else {
            throw SurgeryError.unsupported(path: adapter.path, what: "merging a GGUF LoRA adapter without general.architecture into a Hugging Face-named base without a config.json naming its architecture (nothing says which llama.cpp name table applies; ckpt maps \(GGUFArchitectureNames.supported.joined(separator: ", ")))")
        }
        let names = try source.names(for: "merging the GGUF LoRA adapter '\(escapedForTerminal(adapter.path))' into a Hugging Face-named base")
        var config: LlamaConfig?
        func heads(_ module: String) throws -> Int? {
            guard names.permutesQK, module.hasSuffix(".attn_q") || module.hasSuffix(".attn_k") else { return nil }
            if config == nil {
                do { config = try LlamaConfig.read(configPath) } catch {
                    throw SurgeryError.unsupported(path: adapter.path, what: "\(module): llama.cpp's converter permuted the rows of this rotary projection per head, and undoing that needs the base model's head counts from its config.json (\(error))")
                }
            }
            return config.flatMap { LlamaNames.permutedHeads(ggufModule: module, config: $0) }
        }
        var mapped = adapter
        var permuted = 0
        mapped.deltas = try adapter.deltas.map { delta in
            // Names the table does not know stay as they are and are then reported as unmatched.
            guard let hf = names.hfModule(delta.module) else { return delta }
            var result = delta
            result.module = hf
            guard let heads = try heads(delta.module) else { return result }
            let permutation = RowPermutation(heads: heads, inverse: true)
            guard delta.kind == .linear, delta.blocks.count == 1, let block = delta.blocks.first, permutation.fits(rows: block.b.rows) else {
                throw SurgeryError.unsupported(path: adapter.path, what: "\(delta.module): \(delta.outFeatures) output rows do not split into \(heads) heads of an even size (is the config.json beside the base the right model?)")
            }
            result.blocks[0].b = try GGUFBaseMapping.permuteRows(block.b, permutation)
            permuted += 1
            return result
        }
        mapped.notes.append("module names mapped back to Hugging Face's (\(names.architecture), gguf-py tensor map)" + (permuted > 0 ? "; B rows of \(permuted) Q/K module(s) restored from llama.cpp's rotary order (\(config?.heads ?? 0) heads, \(config?.kvHeads ?? 0) KV heads)" : ""))
        return mapped
    }
}
