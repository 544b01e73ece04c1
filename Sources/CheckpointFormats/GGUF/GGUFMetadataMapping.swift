import CheckpointCore

/// How file metadata crosses the safetensors ↔ GGUF boundary (documented in README "GGUF").
///
/// - safetensors → GGUF: each `__metadata__` entry `K = V` becomes the STRING key `safetensors.K`, in
///   order. A GGUF source keeps its key/values, minus the `split.*` keys of its set.
/// - GGUF → safetensors: every STRING key `safetensors.K` becomes `K = V` again; other keys have no
///   string-to-string form and are counted in `dropped` (the caller reports them).
/// So safetensors → GGUF → safetensors gives the same `__metadata__` back.
public enum GGUFMetadataMapping {
    public static let safetensorsPrefix = "safetensors."

    /// The GGUF key/values for an output: the source's, or its safetensors metadata under the prefix.
    public static func ggufMetadata(from source: CheckpointMetadata) -> GGUFMetadata {
        if var gguf = source.gguf {
            for key in [GGUFConstants.Key.splitNumber, GGUFConstants.Key.splitCount, GGUFConstants.Key.splitTensorCount] {
                gguf.remove(key)
            }
            return gguf
        }
        return GGUFMetadata((source.safetensors ?? []).map { GGUFKeyValue(safetensorsPrefix + $0.key, .string($0.value)) })
    }

    /// The safetensors `__metadata__` for an output, and how many GGUF keys could not be carried.
    public static func safetensorsMetadata(from source: CheckpointMetadata) -> (metadata: [(key: String, value: String)]?, dropped: Int) {
        guard let gguf = source.gguf else { return (source.safetensors, 0) }
        var entries: [(key: String, value: String)] = []
        var dropped = 0
        for entry in gguf.entries {
            if entry.key.hasPrefix(safetensorsPrefix), let text = entry.value.text {
                entries.append((String(entry.key.dropFirst(safetensorsPrefix.count)), text))
            } else {
                dropped += 1
            }
        }
        return (entries.isEmpty ? nil : entries, dropped)
    }

    /// `general.file_type` (llama.cpp's `llama_ftype`) when every tensor of 2+ dimensions has one type
    /// that names a file type; nil otherwise (mixes such as Q4_K_M cannot be told apart from tensors).
    public static func fileType(of tensors: [TensorInfo]) -> UInt32? {
        let weights = tensors.filter { $0.shape.count >= 2 }
        guard let first = weights.first?.dtype, weights.allSatisfy({ $0.dtype == first }) else {
            return tensors.allSatisfy { $0.dtype == .f32 } && !tensors.isEmpty ? 0 : nil
        }
        let table: [DType: UInt32] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9, .q6K: 18, .bf16: 32, .tq1_0: 36, .tq2_0: 37]
        if first == .f32 { return tensors.allSatisfy { $0.dtype == .f32 } ? 0 : nil }
        return table[first]
    }

    /// Adds what a writer of GGUF files for llama.cpp must carry: `general.quantization_version` when a
    /// tensor is block-quantized, and `general.file_type` when the tensors determine it.
    public static func addDerivedKeys(_ metadata: inout GGUFMetadata, tensors: [TensorInfo]) {
        if tensors.contains(where: \.dtype.isBlockQuantized), metadata[GGUFConstants.Key.quantizationVersion] == nil {
            metadata.set(GGUFConstants.Key.quantizationVersion, .uint32(GGUFConstants.quantizationVersion))
        }
        if let type = fileType(of: tensors) {
            metadata.set(GGUFConstants.Key.fileType, .uint32(type))
        }
    }
}
