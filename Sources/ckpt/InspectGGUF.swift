import CheckpointCore
import CheckpointFormats

/// The GGUF parts of `ckpt inspect`: typed key/values, ggml type names, llama.cpp compatibility warnings.
extension InspectReport {
    /// The dtype as the reader's format spells it (`Q4_K`, `BF16` for GGUF; safetensors names otherwise).
    func dtypeName(_ dtype: DType) -> String {
        if reader.metadata.gguf != nil, let name = GGMLType.name(of: dtype) { return name }
        return SafeTensorsDType.name(of: dtype)
    }

    static func ggufWarnings(_ reader: any CheckpointReader) -> [String] {
        guard let metadata = reader.metadata.gguf else { return [] }
        var warnings = metadata.nestedArrayKeys.map {
            "key '\($0)' holds an array of arrays: llama.cpp (ggml) refuses to load this file, gguf-py reads it"
        }
        if GGUFLoRAAdapter.isAdapter(metadata) {
            do { _ = try GGUFLoRAAdapter(metadata: metadata, tensors: reader.tensors, file: reader.path) } catch {
                warnings.append("llama.cpp would refuse this adapter: \(error)")
            }
        }
        return warnings
    }

    /// One line about a GGUF LoRA adapter: pairs, alpha, ranks.
    var adapterSummary: String? {
        guard let metadata = reader.metadata.gguf, GGUFLoRAAdapter.isAdapter(metadata),
              let adapter = try? GGUFLoRAAdapter(metadata: metadata, tensors: reader.tensors, file: reader.path) else { return nil }
        let ranks = adapter.pairs.map(\.rank)
        let range = (ranks.min() ?? 0) == (ranks.max() ?? 0) ? "\(ranks.first ?? 0)" : "\(ranks.min() ?? 0)–\(ranks.max() ?? 0)"
        return "LoRA for \(adapter.architecture ?? "?"): \(adapter.pairs.count) pairs, rank \(range), alpha \(adapter.alpha)"
    }

    func ggufText(_ metadata: GGUFMetadata, line: (String, String) -> Void) {
        if metadata.entries.isEmpty { line("metadata", "(none)") }
        let width = min(48, metadata.entries.map { escapedForTerminal($0.key).count }.max() ?? 0)
        for (number, entry) in metadata.entries.enumerated() {
            let key = escapedForTerminal(entry.key).padding(width)
            line(number == 0 ? "metadata" : "", "\(key) \(entry.value.typeName.padding(14)) \(entry.value.summary())")
        }
    }

    func ggufJSON(_ metadata: GGUFMetadata) -> JSONValue {
        .array(metadata.entries.map { entry in
            .object([
                JSONMember("key", .string(entry.key)),
                JSONMember("type", .string(entry.value.typeName)),
                JSONMember("value", entry.value.json),
            ])
        })
    }

    /// ggml's dimension order (`ne`, innermost first) of a tensor, for `--ggml-order`.
    static func ne(_ tensor: TensorInfo) -> [Int] { tensor.shape.reversed() }
}
