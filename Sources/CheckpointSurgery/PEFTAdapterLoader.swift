import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Reads a PEFT LoRA folder: adapter_config.json and adapter_model.safetensors (or .bin).
enum PEFTAdapterLoader {
    static let prefix = "base_model.model."

    /// The weights file of a PEFT folder (or the file itself).
    static func weightsFile(in folderOrFile: String) throws -> (folder: String, weights: String) {
        guard FolderListing.isFolder(folderOrFile) else { return (Paths.folder(of: folderOrFile), folderOrFile) }
        for name in ["adapter_model.safetensors", "adapter_model.bin"] {
            let candidate = Paths.join(folderOrFile, name)
            if (try? ReadOnlyFile(path: candidate)) != nil { return (folderOrFile, candidate) }
        }
        throw SurgeryError.adapterNotRecognised(path: folderOrFile, reason: "adapter_config.json without adapter_model.safetensors or adapter_model.bin")
    }

    static func load(folderOrFile: String) throws -> Adapter {
        let (folder, weights) = try weightsFile(in: folderOrFile)
        let config = try PEFTConfig.read(path: Paths.join(folder, "adapter_config.json"))
        try config.checkMergeable(adapterPath: folder)
        let tensors = AdapterTensors(reader: try Checkpoint.open(weights))
        var modules: [String: [String: String]] = [:]  // module → role → tensor name
        var order: [String] = []
        var replacements: [Replacement] = []
        let roles = ["lora_A.weight", "lora_B.weight", "lora_B.bias", "lora_embedding_A", "lora_embedding_B",
                     "lora_magnitude_vector", "lora_magnitude_vector.weight"]
        for (index, name) in tensors.names.enumerated() {
            let stripped = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
            if let role = roles.first(where: { stripped.hasSuffix("." + $0) }) {
                let module = String(stripped.dropLast(role.count + 1))
                if modules[module] == nil { order.append(module) }
                modules[module, default: [:]][role] = name
                continue
            }
            if stripped.hasSuffix(".base_layer.weight") {
                // PEFT saved the layer's own weight (save_embedding_layers, e.g. after resizing the
                // vocabulary); loading the adapter puts it into the base, so it replaces the base's.
                let module = String(stripped.dropLast(".base_layer.weight".count))
                replacements.append(Replacement(module: module, parameter: "weight", reader: tensors.reader, index: index))
                continue
            }
            let parts = stripped.split(separator: ".", omittingEmptySubsequences: false)
            if parts.count >= 2 {
                let module = parts.dropLast().joined(separator: ".")
                if config.modulesToSave.contains(where: { PEFTConfig.firstMatch([($0, true)], module: module) != nil }) {
                    replacements.append(Replacement(module: module, parameter: String(parts[parts.count - 1]), reader: tensors.reader, index: index))
                    continue
                }
            }
            throw SurgeryError.malformedAdapter(path: weights, tensor: name, message: "not a LoRA factor, magnitude or modules_to_save tensor this build knows (trainable tokens and other PEFT extras are not supported)")
        }
        var deltas: [ModuleDelta] = []
        var notes: [String] = []
        if config.useRSLoRA { notes.append("rsLoRA: scale = lora_alpha / sqrt(r)") }
        for module in order {
            guard let roles = modules[module] else { continue }
            deltas.append(try delta(module: module, roles: roles, config: config, tensors: tensors))
        }
        if !config.rankPattern.isEmpty || !config.alphaPattern.isEmpty {
            notes.append("rank_pattern / alpha_pattern applied with PEFT's rule (first key matching the end of the module path)")
        }
        return Adapter(path: folder, format: .peft, deltas: deltas, replacements: replacements, notes: notes, flattenedNames: false)
    }

    static func delta(module: String, roles: [String: String], config: PEFTConfig, tensors: AdapterTensors) throws -> ModuleDelta {
        let path = tensors.path
        let isEmbedding = roles["lora_embedding_A"] != nil
        guard let aName = roles[isEmbedding ? "lora_embedding_A" : "lora_A.weight"], let bName = roles[isEmbedding ? "lora_embedding_B" : "lora_B.weight"],
              let aInfo = tensors.info(aName), let bInfo = tensors.info(bName) else {
            throw SurgeryError.malformedAdapter(path: path, tensor: module, message: "a module needs both its A and B factors")
        }
        let (r, _, scale) = config.scale(module: module)
        guard aInfo.shape.count >= 2, bInfo.shape.count >= 2 else {
            throw SurgeryError.malformedAdapter(path: path, tensor: aName, message: "factors must have at least 2 dimensions, found \(aInfo.shape) and \(bInfo.shape)")
        }
        let rank = aInfo.shape[0]
        guard rank == r, bInfo.shape[1] == r, bInfo.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
            throw SurgeryError.malformedAdapter(path: path, tensor: module, message: "A \(aInfo.shape) and B \(bInfo.shape) do not have the rank r = \(r) that adapter_config.json gives this module")
        }
        let out = bInfo.shape[0]
        let inputs = aInfo.elementCount / max(rank, 1)
        let kernel = Array(aInfo.shape.dropFirst(2))
        let kind: ModuleDelta.Kind = isEmbedding ? .embedding : (kernel.isEmpty ? .linear : .convolution)
        var magnitude: ModuleDelta.Magnitude?
        if let name = roles["lora_magnitude_vector"] ?? roles["lora_magnitude_vector.weight"] {
            guard !isEmbedding else { throw SurgeryError.unsupported(path: path, what: "DoRA on an embedding (\(module))") }
            guard !(config.fanInFanOut && kind == .linear) else {
                throw SurgeryError.unsupported(path: path, what: "DoRA with fan_in_fan_out (\(module))")
            }
            let values = try tensors.values(name)
            guard values.count == out else {
                throw SurgeryError.malformedAdapter(path: path, tensor: name, message: "\(values.count) magnitudes for \(out) output features")
            }
            magnitude = .init(values: values, axis: .perOutput, epsilon: 0)
        }
        var bias: [Double]?
        if let name = roles["lora_B.bias"] {
            let values = try tensors.values(name)
            guard values.count == out else { throw SurgeryError.malformedAdapter(path: path, tensor: name, message: "\(values.count) bias values for \(out) outputs") }
            bias = values
        }
        let block = ModuleDelta.Block(b: try tensors.matrix(bName, rows: out, columns: rank), a: try tensors.matrix(aName, rows: rank, columns: inputs),
                                      scale: scale, rowOffset: 0, columnOffset: 0)
        return ModuleDelta(module: module, kind: kind, outFeatures: out, inFeatures: inputs, blocks: [block],
                           transposedInBase: isEmbedding || (config.fanInFanOut && kind == .linear), kernel: kernel,
                           magnitude: magnitude, bias: bias, biasScale: scale)
    }
}
