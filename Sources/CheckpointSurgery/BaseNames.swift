import CheckpointCore
import CheckpointFormats

/// The base checkpoint's tensor names, and the ways adapter module paths are found among them.
struct BaseNames {
    let tensors: [TensorInfo]
    let byName: [String: Int]
    /// kohya-flattened module path (`.` → `_`) → module path, for modules with a `.weight`.
    let flattened: [String: String]
    /// The embedding tensor shared with lm_head when the base ties them (no separate lm_head stored).
    let tiedEmbedding: String?

    /// Tensor names in llama.cpp's scheme (`blk.N.attn_q.weight`, `token_embd.weight`): a GGUF base.
    var isLlamaCppNamed: Bool { Self.isLlamaCppNamed(tensors) }

    static func isLlamaCppNamed(_ tensors: [TensorInfo]) -> Bool {
        tensors.contains { $0.name.hasPrefix("blk.") || $0.name == "token_embd.weight" }
    }

    static let embeddingSuffixes = ["embed_tokens.weight", "wte.weight", "word_embeddings.weight", "tok_embeddings.weight", "embed_in.weight", "token_embd.weight"]
    static let outputNames = ["lm_head.weight", "embed_out.weight", "output.weight"]
    static let kohyaPrefixes = ["lora_unet_", "lora_te1_", "lora_te2_", "lora_te3_", "lora_te_", "lora_transformer_", "lora_"]

    init(tensors: [TensorInfo], tieWordEmbeddings: Bool?) {
        self.tensors = tensors
        var map: [String: Int] = [:]
        var flat: [String: String] = [:]
        for (index, info) in tensors.enumerated() {
            map[info.name] = index
            if info.name.hasSuffix(".weight") {
                let module = String(info.name.dropLast(".weight".count))
                flat[String(module.map { $0 == "." ? "_" : $0 })] = module
            }
        }
        byName = map
        flattened = flat
        let embedding = tensors.first { info in Self.embeddingSuffixes.contains { info.name.hasSuffix($0) } }?.name
        let hasOutput = tensors.contains { info in Self.outputNames.contains { info.name == $0 || info.name.hasSuffix("." + $0) } }
        // llama.cpp ties exactly when output.weight is absent; a config.json lying beside a GGUF says nothing.
        let llamaCpp = Self.isLlamaCppNamed(tensors)
        tiedEmbedding = ((llamaCpp ? nil : tieWordEmbeddings) ?? !hasOutput) && !hasOutput ? embedding : nil
    }

    /// Reads `tie_word_embeddings` from the config.json beside a base file or inside a base folder.
    static func tieWordEmbeddings(basePath: String) -> Bool? {
        let folder = FolderListing.isFolder(basePath) ? basePath : Paths.folder(of: basePath)
        guard let file = try? ReadOnlyFile(path: Paths.join(folder, "config.json")), file.size < 4 << 20,
              let bytes = try? file.read(at: 0, count: file.size), let json = try? JSONParser.parse(bytes) else { return nil }
        if case let .bool(value)? = json["tie_word_embeddings"] { return value }
        return nil
    }

    /// Candidate base names for `parameter` of an adapter module, most likely first.
    func candidates(module: String, parameter: String, flattenedNames: Bool) -> [String] {
        if flattenedNames {
            var key = module
            var tried = [key]
            for prefix in Self.kohyaPrefixes where key.hasPrefix(prefix) {
                key = String(key.dropFirst(prefix.count))
                tried.append(key)
                break
            }
            let suffix = module.contains(".") ? nil : Self.flattenedSuffix(of: module, in: flattened)
            let found = tried.compactMap { flattened[$0] } + [suffix].compactMap { $0 }
            return found.map { $0 + "." + parameter } + tried.map { $0 + "." + parameter }
        }
        var names = [module + "." + parameter]
        if module.hasPrefix("model.") { names.append(String(module.dropFirst(6)) + "." + parameter) }
        names.append("model." + module + "." + parameter)
        return names
    }

    /// The value of the longest key of `table` that `name` ends with, starting after an underscore:
    /// kohya names carry prefixes of their own (`lora_unet_`, `base_model_model_`) before the flattened
    /// path, and `layers_1_` never matches inside `layers_11_`.
    static func flattenedSuffix(of name: String, in table: [String: String]) -> String? {
        if let exact = table[name] { return exact }
        var best: (length: Int, value: String)?
        var end = name.endIndex
        while let underscore = name[..<end].lastIndex(of: "_") {
            let suffix = String(name[name.index(after: underscore)...])
            if let value = table[suffix], suffix.count > (best?.length ?? 0) { best = (suffix.count, value) }
            end = underscore
        }
        return best?.value
    }

    func resolve(module: String, parameter: String, flattenedNames: Bool) -> (index: Int?, tried: [String]) {
        let names = candidates(module: module, parameter: parameter, flattenedNames: flattenedNames)
        for name in names { if let index = byName[name] { return (index, names) } }
        return (nil, names)
    }

    static func isOutputModule(_ module: String) -> Bool {
        let last = module.split(separator: ".").last.map(String.init) ?? module
        // `output`: llama.cpp's name for lm_head (an adapter mapped onto a GGUF base).
        return ["lm_head", "embed_out"].contains(last) || module.hasSuffix("lm_head") || module == "output"
    }
}
