import CheckpointCore

/// A llama.cpp LoRA adapter in a GGUF file (formats.md §2.9), validated as llama.cpp's
/// `llama_adapter_lora_init` does: `general.type = adapter`, `adapter.type = lora`, tensors in
/// `<base>.lora_a` / `<base>.lora_b` pairs with matching ranks (norm tensors tolerated).
public struct GGUFLoRAAdapter: Sendable {
    public struct Pair: Sendable, Equatable {
        /// The base model tensor the pair applies to (`blk.0.attn_q.weight`).
        public var base: String
        public var a: Int
        public var b: Int
        /// `lora_b.ne[0]`: llama.cpp's rank for the scale alpha / rank.
        public var rank: Int
    }

    public enum AdapterError: Error, Sendable, Equatable, CustomStringConvertible {
        case notAnAdapter(file: String, type: String)
        case notLoRA(file: String, type: String)
        case alphaNotFloat(file: String, type: String)
        case unexpectedSuffix(file: String, tensor: String)
        case missingComponent(file: String, base: String)
        case rankMismatch(file: String, base: String)

        public var description: String {
            func q(_ s: String) -> String { "'" + escapedForTerminal(s) + "'" }
            switch self {
            case let .notAnAdapter(file, type): return "\(q(file)): general.type is \(q(type)), not 'adapter': this is not a GGUF adapter"
            case let .notLoRA(file, type): return "\(q(file)): adapter.type is \(q(type)), not 'lora'"
            case let .alphaNotFloat(file, type): return "\(q(file)): adapter.lora.alpha must be FLOAT32 but is \(type)"
            case let .unexpectedSuffix(file, tensor): return "\(q(file)): LoRA tensor \(q(tensor)) has unexpected suffix (expected .lora_a or .lora_b)"
            case let .missingComponent(file, base): return "\(q(file)): LoRA tensor pair for \(q(base)) is missing one component"
            case let .rankMismatch(file, base): return "\(q(file)): \(q(base)): lora_a and lora_b ranks differ (lora_a must be [in, r], lora_b [r, out] in ggml order)"
            }
        }
    }

    public var alpha: Float
    public var architecture: String?
    public var pairs: [Pair]

    public static func isAdapter(_ metadata: GGUFMetadata) -> Bool {
        metadata[GGUFConstants.Key.type]?.text == "adapter"
    }

    public init(metadata: GGUFMetadata, tensors: [TensorInfo], file: String) throws(AdapterError) {
        let type = metadata[GGUFConstants.Key.type]?.text ?? ""
        guard type == "adapter" else { throw .notAnAdapter(file: file, type: type) }
        let kind = metadata["adapter.type"]?.text ?? ""
        guard kind == "lora" else { throw .notLoRA(file: file, type: kind) }
        switch metadata["adapter.lora.alpha"] {
        case nil: alpha = 0
        case let .float32(value)?: alpha = value
        case let other?: throw .alphaNotFloat(file: file, type: other.type.name)
        }
        architecture = metadata[GGUFConstants.Key.architecture]?.text
        var halves: [String: (a: Int?, b: Int?)] = [:]
        var order: [String] = []
        for (index, tensor) in tensors.enumerated() {
            let name = tensor.name
            let isA = name.hasSuffix(".lora_a")
            guard isA || name.hasSuffix(".lora_b") else {
                if name.hasSuffix("_norm.weight") { continue }
                throw .unexpectedSuffix(file: file, tensor: name)
            }
            let base = String(name.dropLast(7))
            if halves[base] == nil { order.append(base) }
            var entry = halves[base] ?? (nil, nil)
            if isA { entry.a = index } else { entry.b = index }
            halves[base] = entry
        }
        pairs = try order.map { base throws(AdapterError) in
            guard let entry = halves[base], let a = entry.a, let b = entry.b else { throw .missingComponent(file: file, base: base) }
            // Outermost-first shapes: lora_a [r, in] (token_embd: [vocab, r]), lora_b [out, r].
            let rank = tensors[b].shape.last ?? 0
            let aRank = base == "token_embd.weight" ? tensors[a].shape.last : tensors[a].shape.first
            guard tensors[a].shape.count == 2, tensors[b].shape.count == 2, aRank == rank else {
                throw .rankMismatch(file: file, base: base)
            }
            return Pair(base: base, a: a, b: b, rank: rank)
        }
    }
}
