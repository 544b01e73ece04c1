import CheckpointCore

/// `ckpt convert --arch llama`: Hugging Face Llama/Mistral checkpoints to llama.cpp's GGUF layout and
/// back. Plans the renames and Q/K row permutations, and builds the output's metadata.
public enum LlamaConversion {
    public struct MappingError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The metadata the output gets, and notes for the user.
    public struct Prepared {
        public var metadata: CheckpointMetadata
        public var notes: [String]
        /// A file to write beside the output (`config.json` of a GGUF converted back to Hugging Face).
        public var sidecar: (name: String, bytes: [UInt8])? = nil
        /// The file name the output must have inside a folder (`adapter_model.safetensors`).
        public var outputName: String? = nil
    }

    /// Maps `plan` (over `reader`, opened from `input`) for `target`; the direction follows the formats
    /// (GGUF output: HF → llama.cpp; GGUF input with another output: llama.cpp → HF).
    public static func prepare(input: String, reader: any CheckpointReader, toGGUF: Bool, plan: inout ConversionPlan, vocabFrom: String?) throws -> Prepared {
        if let gguf = reader.metadata.gguf {
            guard !toGGUF else {
                throw MappingError(description: "--arch llama maps Hugging Face checkpoints to GGUF and back; '\(escapedForTerminal(input))' is already GGUF (convert without --arch)")
            }
            let config = try LlamaConfig(gguf: gguf, file: input)
            try plan.map(architecture: "llama") { LlamaNames.toHF($0.name, config: config) }
            var notes: [String] = []
            if reader.tensors.contains(where: { $0.name == "rope_freqs.weight" }) {
                notes.append("rope_freqs.weight (llama3 RoPE scaling factors) has no Hugging Face tensor: set rope_scaling in config.json by hand")
            }
            let tied = !plan.items.contains(where: { $0.output.name == "lm_head.weight" })
            if tied {
                notes.append("no output.weight in the GGUF: lm_head is tied to embed_tokens (tie_word_embeddings: true in config.json)")
            }
            let dtypes = Set(plan.items.filter { $0.output.shape.count >= 2 }.map(\.output.dtype))
            let dtype = dtypes.count == 1 ? ["f16": "float16", "bf16": "bfloat16", "f32": "float32"][dtypes.first?.userName ?? ""] ?? "float32" : "float32"
            return Prepared(metadata: CheckpointMetadata(safetensors: [("format", "pt")]), notes: notes,
                            sidecar: ("config.json", config.huggingFaceConfig(tiedEmbeddings: tied, dtype: dtype)))
        }
        guard toGGUF else {
            throw MappingError(description: "--arch llama converts a Hugging Face folder to GGUF or a llama GGUF back; write a .gguf output")
        }
        let folder = FolderListing.isFolder(input) ? input : Paths.folder(of: input)
        let config = try LlamaConfig.read(folder)
        try plan.map(architecture: "llama") { LlamaNames.toGGUF($0.name, config: config) }
        if let rope = config.llama3Rope {
            // llama.cpp's converter writes this computed tensor first.
            let factors = rope.factors(dim: config.headDim, theta: config.ropeTheta ?? 10000)
            let bytes = OwnedBytes(count: factors.count * 4)
            factors.withUnsafeBytes { bytes.bytes.copyMemory(from: $0) }
            plan.prepend(try TensorInfo(name: "rope_freqs.weight", dtype: .f32, shape: [factors.count]), bytes: bytes)
        }
        var metadata = GGUFMetadata(config.ggufKeys)
        var notes: [String] = []
        if let vocabFrom {
            let tokenizer = try GGUFReader(path: vocabFrom).header.metadata.entries.filter { $0.key.hasPrefix("tokenizer.") }
            guard !tokenizer.isEmpty else {
                throw MappingError(description: "'\(escapedForTerminal(vocabFrom))' has no tokenizer.* keys to copy")
            }
            if case let .array(tokens)? = GGUFMetadata(tokenizer)["tokenizer.ggml.tokens"],
               let embedding = plan.items.first(where: { $0.output.name == "token_embd.weight" })?.output,
               embedding.shape.first != tokens.values.count {
                throw MappingError(description: "'\(escapedForTerminal(vocabFrom))' has \(tokens.values.count) tokens but token_embd.weight has \(embedding.shape.first ?? 0) rows; use the vocabulary of this model")
            }
            for entry in tokenizer { metadata.set(entry.key, entry.value) }
        } else {
            notes.append("no tokenizer keys: llama.cpp needs a vocabulary to run the model; copy one with --vocab-from FILE.gguf")
        }
        // llama.cpp's converter always ends with the quantization version.
        metadata.set(GGUFConstants.Key.quantizationVersion, .uint32(GGUFConstants.quantizationVersion))
        if config.tieWordEmbeddings {
            notes.append("tie_word_embeddings: no output.weight written; llama.cpp uses token_embd.weight for the output")
        }
        return Prepared(metadata: CheckpointMetadata(gguf: metadata), notes: notes)
    }
}
