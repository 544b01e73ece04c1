import CheckpointCore

/// The hyper-parameters of a Llama / Mistral-family model, read from a Hugging Face `config.json` or
/// from the `llama.*` keys of a GGUF file.
public struct LlamaConfig: Sendable, Equatable {
    public var layers: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var heads: Int
    public var kvHeads: Int
    public var contextLength: Int
    public var vocabSize: Int?
    public var headDim: Int
    public var rmsNormEps: Double?
    public var ropeTheta: Double?
    /// `rope_scaling` of type "linear": its factor.
    public var linearRopeFactor: Double?
    /// `rope_scaling` of type "llama3" (Llama 3.1 and later).
    public var llama3Rope: Llama3RopeScaling?
    public var tieWordEmbeddings: Bool

    public struct ConfigError: Error, CustomStringConvertible {
        public let file: String
        public let reason: String
        public var description: String { "'\(escapedForTerminal(file))': \(reason)" }
    }

    /// Reads `config.json` (its path, or the folder holding it).
    public static func read(_ path: String) throws -> LlamaConfig {
        let file = FolderListing.isFolder(path) ? Paths.join(path, "config.json") : path
        let bytes: [UInt8]
        do {
            let handle = try ReadOnlyFile(path: file)
            bytes = try handle.read(at: 0, count: handle.size)
        } catch {
            throw ConfigError(file: file, reason: "--arch llama needs the model's config.json (\(error))")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch { throw ConfigError(file: file, reason: "not valid JSON: \(error)") }
        return try LlamaConfig(json: json, file: file)
    }

    init(json: JSONValue, file: String) throws {
        func integer(_ key: String) -> Int? { json[key]?.nonNegativeInteger }
        func real(_ key: String, in object: JSONValue? = nil) -> Double? {
            if case let .number(text)? = (object ?? json)[key] { return Double(text) }
            return nil
        }
        func require(_ key: String) throws -> Int {
            guard let value = integer(key) else { throw ConfigError(file: file, reason: "\(key) is missing or not a non-negative integer") }
            return value
        }
        layers = try require("num_hidden_layers")
        hiddenSize = try require("hidden_size")
        intermediateSize = try require("intermediate_size")
        heads = try require("num_attention_heads")
        guard heads > 0 else { throw ConfigError(file: file, reason: "num_attention_heads is 0") }
        kvHeads = integer("num_key_value_heads") ?? heads
        contextLength = try require("max_position_embeddings")
        vocabSize = integer("vocab_size")
        headDim = integer("head_dim") ?? hiddenSize / heads
        rmsNormEps = real("rms_norm_eps")
        // transformers 5 moved rope_theta and the scaling into rope_parameters.
        let parameters = json["rope_parameters"]
        ropeTheta = real("rope_theta") ?? parameters.flatMap { real("rope_theta", in: $0) }
        tieWordEmbeddings = json["tie_word_embeddings"] == .bool(true)
        let scaling = json["rope_scaling"].flatMap { $0 == .null ? nil : $0 }
            ?? parameters.flatMap { $0["rope_type"]?.stringValue == "default" ? nil : $0 }
        if let scaling {
            let type = scaling["rope_type"]?.stringValue ?? scaling["type"]?.stringValue ?? "?"
            if type == "llama3", let factor = real("factor", in: scaling) {
                llama3Rope = Llama3RopeScaling(factor: factor, low: real("low_freq_factor", in: scaling) ?? 1,
                                               high: real("high_freq_factor", in: scaling) ?? 4,
                                               originalContext: real("original_max_position_embeddings", in: scaling) ?? 8192)
                return
            }
            guard type == "linear", let value = real("factor", in: scaling) else {
                throw ConfigError(file: file, reason: "rope_scaling type '\(type)' is not supported by ckpt's llama mapping (linear and llama3 are); convert with llama.cpp's convert_hf_to_gguf.py")
            }
            linearRopeFactor = value
        }
    }

    /// The `llama.*` hyper-parameters of a GGUF file (the inverse direction).
    public init(gguf metadata: GGUFMetadata, file: String) throws {
        func integer(_ key: String) throws -> Int {
            guard let value = metadata["llama." + key]?.integer else { throw ConfigError(file: file, reason: "llama.\(key) is missing") }
            return value
        }
        layers = try integer("block_count")
        hiddenSize = try integer("embedding_length")
        intermediateSize = try integer("feed_forward_length")
        heads = try integer("attention.head_count")
        guard heads > 0 else { throw ConfigError(file: file, reason: "llama.attention.head_count is 0") }
        kvHeads = (try? integer("attention.head_count_kv")) ?? heads
        contextLength = try integer("context_length")
        vocabSize = try? integer("vocab_size")
        headDim = (try? integer("rope.dimension_count")) ?? hiddenSize / heads
        rmsNormEps = metadata["llama.attention.layer_norm_rms_epsilon"]?.real
        ropeTheta = metadata["llama.rope.freq_base"]?.real
        linearRopeFactor = metadata["llama.rope.scaling.factor"]?.real
        tieWordEmbeddings = false
    }

    /// The GGUF key/values llama.cpp's converter writes for this model, in its order; `fileType` is a
    /// placeholder refined from the tensors later.
    public var ggufKeys: [GGUFKeyValue] {
        var keys: [GGUFKeyValue] = [
            GGUFKeyValue(GGUFConstants.Key.architecture, .string("llama")),
            GGUFKeyValue(GGUFConstants.Key.type, .string("model")),
            GGUFKeyValue("llama.block_count", .uint32(UInt32(clamping: layers))),
            GGUFKeyValue("llama.context_length", .uint32(UInt32(clamping: contextLength))),
            GGUFKeyValue("llama.embedding_length", .uint32(UInt32(clamping: hiddenSize))),
            GGUFKeyValue("llama.feed_forward_length", .uint32(UInt32(clamping: intermediateSize))),
            GGUFKeyValue("llama.attention.head_count", .uint32(UInt32(clamping: heads))),
            GGUFKeyValue("llama.attention.head_count_kv", .uint32(UInt32(clamping: kvHeads))),
        ]
        if let ropeTheta { keys.append(GGUFKeyValue("llama.rope.freq_base", .float32(Float(ropeTheta)))) }
        if let rmsNormEps { keys.append(GGUFKeyValue("llama.attention.layer_norm_rms_epsilon", .float32(Float(rmsNormEps)))) }
        if headDim != hiddenSize / heads {
            keys.append(GGUFKeyValue("llama.attention.key_length", .uint32(UInt32(clamping: headDim))))
            keys.append(GGUFKeyValue("llama.attention.value_length", .uint32(UInt32(clamping: headDim))))
        }
        keys.append(GGUFKeyValue(GGUFConstants.Key.fileType, .uint32(1024)))
        if let vocabSize { keys.append(GGUFKeyValue("llama.vocab_size", .uint32(UInt32(clamping: vocabSize)))) }
        keys.append(GGUFKeyValue("llama.rope.dimension_count", .uint32(UInt32(clamping: headDim))))
        if let linearRopeFactor {
            keys.append(GGUFKeyValue("llama.rope.scaling.type", .string("linear")))
            keys.append(GGUFKeyValue("llama.rope.scaling.factor", .float32(Float(linearRopeFactor))))
        }
        return keys
    }

    /// A transformers `config.json` for this model (keys sorted, two-space indent, as `save_pretrained`
    /// writes it), so that a GGUF converted back loads with `from_pretrained`.
    public func huggingFaceConfig(tiedEmbeddings: Bool, dtype: String) -> [UInt8] {
        func integer(_ value: Int) -> JSONValue { .number(String(value)) }
        func real(_ value: Double) -> JSONValue { .number(String(Float(value))) }
        var members: [JSONMember] = [
            JSONMember("architectures", .array([.string("LlamaForCausalLM")])),
            JSONMember("dtype", .string(dtype)),
            JSONMember("head_dim", integer(headDim)),
            JSONMember("hidden_act", .string("silu")),
            JSONMember("hidden_size", integer(hiddenSize)),
            JSONMember("intermediate_size", integer(intermediateSize)),
            JSONMember("max_position_embeddings", integer(contextLength)),
            JSONMember("model_type", .string("llama")),
            JSONMember("num_attention_heads", integer(heads)),
            JSONMember("num_hidden_layers", integer(layers)),
            JSONMember("num_key_value_heads", integer(kvHeads)),
            JSONMember("rms_norm_eps", real(rmsNormEps ?? 1e-6)),
            JSONMember("rope_theta", real(ropeTheta ?? 10000)),
            JSONMember("tie_word_embeddings", .bool(tiedEmbeddings)),
        ]
        if let linearRopeFactor {
            members.append(JSONMember("rope_scaling", .object([JSONMember("factor", real(linearRopeFactor)), JSONMember("rope_type", .string("linear"))])))
        }
        if let vocabSize { members.append(JSONMember("vocab_size", integer(vocabSize))) }
        members.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return JSONEmitter(style: .python(indent: 2)).bytes(.object(members)) + [0x0A]
    }
}
