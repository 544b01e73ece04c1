import CheckpointCore

/// Which llama.cpp architecture a model or adapter belongs to, and what said so (for messages).
/// llama.cpp's convert_hf_to_gguf.py and convert_lora_to_gguf.py pick their model class from
/// config.json's `architectures[0]` (or `text_config.architectures[0]`); the class fixes
/// `general.architecture`. `model_type` is the fallback for configs without `architectures`.
public struct GGUFArchitectureSource: Sendable, Equatable {
    /// The GGUF architecture name, or nil when the source names a model llama.cpp's converters
    /// would map to something ckpt does not know (then `evidence` says what it named).
    public var architecture: String?
    /// What said so, e.g. "--base-config 'qwen2/config.json' (architectures: Qwen2ForCausalLM)".
    public var evidence: String

    public init(architecture: String?, evidence: String) {
        self.architecture = architecture
        self.evidence = evidence
    }

    /// transformers classes → the architecture llama.cpp's converter writes for them (MistralForCausalLM
    /// is converted by LlamaModel).
    static let classes: [String: String] = [
        "LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
        "Qwen3ForCausalLM": "qwen3", "GemmaForCausalLM": "gemma", "Gemma2ForCausalLM": "gemma2",
    ]
    static let modelTypes: [String: String] = [
        "llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "gemma": "gemma", "gemma2": "gemma2",
    ]

    /// The architecture a transformers class name stands for (`auto_mapping.base_model_class` of a PEFT
    /// adapter_config.json, `architectures[0]` of config.json).
    public static func architecture(ofClass name: String) -> String? { classes[name] }

    /// What a transformers config.json declares; nil when it declares neither `architectures` nor `model_type`.
    public static func declared(by json: JSONValue, file: String) -> GGUFArchitectureSource? {
        let quoted = "'" + escapedForTerminal(file) + "'"
        let list = json["text_config"]?["architectures"] ?? json["architectures"]
        if case let .array(names)? = list, let first = names.first?.stringValue {
            return GGUFArchitectureSource(architecture: classes[first], evidence: "\(quoted) (architectures: \(escapedForTerminal(first)))")
        }
        if let type = json["model_type"]?.stringValue {
            return GGUFArchitectureSource(architecture: modelTypes[type], evidence: "\(quoted) (model_type: \(escapedForTerminal(type)))")
        }
        return nil
    }

    /// Reads config.json (its path, or the folder holding it); nil when there is none or it says nothing.
    public static func declared(byConfigAt path: String) throws -> GGUFArchitectureSource? {
        let file = FolderListing.isFolder(path) ? Paths.join(path, "config.json") : path
        guard let handle = try? ReadOnlyFile(path: file) else { return nil }
        guard handle.size <= 16 << 20 else { throw LlamaConfig.ConfigError(file: file, reason: "larger than 16 MiB; not a model config") }
        let json: JSONValue
        do { json = try JSONParser.parse(try handle.read(at: 0, count: handle.size)) } catch {
            throw LlamaConfig.ConfigError(file: file, reason: "not valid JSON: \(error)")
        }
        return declared(by: json, file: file)
    }

    /// `general.architecture` of a GGUF file.
    public static func declared(by metadata: GGUFMetadata, file: String) -> GGUFArchitectureSource? {
        guard let name = metadata[GGUFConstants.Key.architecture]?.text else { return nil }
        return GGUFArchitectureSource(architecture: name, evidence: "'\(escapedForTerminal(file))' (general.architecture: \(escapedForTerminal(name)))")
    }

    /// The known name table, or an error naming the source and the architectures ckpt maps.
    public func names(for purpose: String) throws -> GGUFArchitectureNames {
        if let architecture, let names = GGUFArchitectureNames(architecture: architecture) { return names }
        let what = architecture.map { "architecture '\(escapedForTerminal($0))' (from \(evidence))" } ?? "the model named by \(evidence)"
        throw UnsupportedArchitecture(description: "\(purpose): \(what) has no llama.cpp name table in ckpt; it maps \(GGUFArchitectureNames.supported.joined(separator: ", "))")
    }

    /// Two sources that must agree (an adapter and its base): the first, or an error naming both when
    /// both name a known architecture and the names differ.
    public static func agreeing(_ first: GGUFArchitectureSource?, _ second: GGUFArchitectureSource?) throws -> GGUFArchitectureSource? {
        guard let first, let second else { return first ?? second }
        if let a = first.architecture, let b = second.architecture, a != b {
            throw UnsupportedArchitecture(description: "architectures differ: \(first.described) but \(second.described); an adapter applies only to the architecture it was trained on")
        }
        return first
    }

    /// "qwen2 (from …)", or the evidence alone when it names no known architecture.
    public var described: String { architecture.map { "\(escapedForTerminal($0)) (from \(evidence))" } ?? evidence }

    /// An architecture ckpt cannot map, or two that disagree.
    public struct UnsupportedArchitecture: Error, Sendable, CustomStringConvertible {
        public let description: String
    }
}
