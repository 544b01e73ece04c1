import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Tensor names of the two MELoRA layouts.
enum MELoRANames {
    /// MyTransformers: `<module>.weight_a.<i>` / `<module>.weight_b.<i>` → (module, factor "a"/"b", block).
    static func myTransformers(_ name: String) -> (module: String, factor: String, block: Int)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let block = Int(parts[parts.count - 1]), block >= 0,
              parts[parts.count - 2] == "weight_a" || parts[parts.count - 2] == "weight_b" else { return nil }
        return (parts.dropLast(2).joined(separator: "."), parts[parts.count - 2] == "weight_a" ? "a" : "b", block)
    }

    /// Official (PEFT-style): `base_model.model.<module>.lora_A.<i>.weight` → (module, "a"/"b", block).
    static func official(_ name: String) -> (module: String, factor: String, block: Int)? {
        var parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts.last == "weight", let block = Int(parts[parts.count - 2]), block >= 0,
              parts[parts.count - 3] == "lora_A" || parts[parts.count - 3] == "lora_B" else { return nil }
        let factor = parts[parts.count - 3] == "lora_A" ? "a" : "b"
        parts.removeLast(3)
        var module = parts.joined(separator: ".")
        if module.hasPrefix(PEFTAdapterLoader.prefix) { module = String(module.dropFirst(PEFTAdapterLoader.prefix.count)) }
        return (module, factor, block)
    }
}

/// Reads MELoRA adapters (peers.md §4.9). A module's delta is block-diagonal: block i maps input
/// slice i to output slice i with its own Bᵢ·Aᵢ and scale sᵢ.
enum MELoRAAdapterLoader {
    static func load(path: String, scale: Double?) throws -> Adapter {
        if FolderListing.isFolder(path) {
            let (folder, weights) = try PEFTAdapterLoader.weightsFile(in: path)
            let config = try PEFTConfig.read(path: Paths.join(folder, "adapter_config.json"))
            try config.checkMergeable(adapterPath: folder)
            let tensors = AdapterTensors(reader: try Checkpoint.open(weights))
            let deltas = try build(tensors: tensors, parse: MELoRANames.official) { module, block, rank in
                let r = config.r.count > block ? config.r[block] : config.r[0]
                let alpha = config.alpha.count > block ? config.alpha[block] : config.alpha[0]
                guard r == rank else {
                    throw SurgeryError.malformedAdapter(path: weights, tensor: "\(module) block \(block)", message: "rank \(rank), but adapter_config.json gives r = \(r)")
                }
                return alpha / Double(r)
            }
            return Adapter(path: folder, format: .melora, deltas: deltas, replacements: [], notes: ["MELoRA (official layout): block scale αᵢ / rᵢ from the r and lora_alpha lists"], flattenedNames: false)
        }
        guard let scale else {
            throw SurgeryError.adapterConfig(path: path, message: "MyTransformers MELoRA files do not store their scale (lora_scaler); pass it with --melora-scale S (ΔW = S · blockdiag(Bᵢ·Aᵢ))")
        }
        let tensors = AdapterTensors(reader: try Checkpoint.open(path))
        let deltas = try build(tensors: tensors, parse: MELoRANames.myTransformers) { _, _, _ in scale }
        return Adapter(path: path, format: .melora, deltas: deltas, replacements: [], notes: ["MELoRA (MyTransformers layout): scale \(scale) from --melora-scale"], flattenedNames: false)
    }

    static func build(tensors: AdapterTensors, parse: (String) -> (module: String, factor: String, block: Int)?,
                      scale: (String, Int, Int) throws -> Double) throws -> [ModuleDelta] {
        var factors: [String: [Int: (a: String?, b: String?)]] = [:]
        var order: [String] = []
        for name in tensors.names {
            guard let parsed = parse(name) else {
                throw SurgeryError.malformedAdapter(path: tensors.path, tensor: name, message: "not a MELoRA factor name")
            }
            if factors[parsed.module] == nil { order.append(parsed.module) }
            var entry = factors[parsed.module, default: [:]][parsed.block] ?? (nil, nil)
            if parsed.factor == "a" { entry.a = name } else { entry.b = name }
            factors[parsed.module, default: [:]][parsed.block] = entry
        }
        return try order.map { module in
            let blocks = factors[module] ?? [:]
            var result: [ModuleDelta.Block] = []
            var rowOffset = 0, columnOffset = 0
            for index in 0..<blocks.count {
                guard let entry = blocks[index], let aName = entry.a, let bName = entry.b, let a = tensors.info(aName), let b = tensors.info(bName),
                      a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[1] else {
                    throw SurgeryError.malformedAdapter(path: tensors.path, tensor: module, message: "block \(index) of \(blocks.count) is missing or its A and B do not share a rank (blocks must be numbered 0…n−1)")
                }
                let s = try scale(module, index, a.shape[0])
                result.append(.init(b: try tensors.matrix(bName, rows: b.shape[0], columns: b.shape[1]), a: try tensors.matrix(aName, rows: a.shape[0], columns: a.shape[1]),
                                    scale: s, rowOffset: rowOffset, columnOffset: columnOffset))
                rowOffset += b.shape[0]
                columnOffset += a.shape[1]
            }
            return ModuleDelta(module: module, kind: .linear, outFeatures: rowOffset, inFeatures: columnOffset, blocks: result,
                               transposedInBase: false, kernel: [], magnitude: nil, bias: nil, biasScale: 0)
        }
    }
}
