import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Reads a kohya-ss LoRA file: `<flattened module>.lora_down.weight` [r, in(, kh, kw)],
/// `.lora_up.weight` [out, r(, 1, 1)], optional `.alpha` (scalar, used as stored: α missing ⇒ α = r)
/// and optional `.dora_scale` whose shape says the DoRA axis ([out, 1, …] or [1, in, …]).
enum KohyaAdapterLoader {
    static func load(path: String) throws -> Adapter {
        let tensors = AdapterTensors(reader: try Checkpoint.open(path))
        var order: [String] = []
        var seen = Set<String>()
        let suffixes = [".lora_down.weight", ".lora_up.weight", ".alpha", ".dora_scale"]
        for name in tensors.names {
            guard let suffix = suffixes.first(where: { name.hasSuffix($0) }) else {
                throw SurgeryError.malformedAdapter(path: path, tensor: name, message: "not a kohya LoRA tensor (lora_down / lora_up / alpha / dora_scale); LoHa, LoKr and other LyCORIS kinds are not supported")
            }
            let module = String(name.dropLast(suffix.count))
            if seen.insert(module).inserted { order.append(module) }
        }
        var deltas: [ModuleDelta] = []
        var notes: [String] = []
        var missingAlpha = 0
        for module in order {
            let downName = module + ".lora_down.weight", upName = module + ".lora_up.weight"
            guard let down = tensors.info(downName), let up = tensors.info(upName) else {
                throw SurgeryError.malformedAdapter(path: path, tensor: module, message: "needs both lora_down.weight and lora_up.weight")
            }
            guard down.shape.count >= 2, up.shape.count >= 2, up.shape[1] == down.shape[0], up.shape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
                throw SurgeryError.malformedAdapter(path: path, tensor: module, message: "lora_down \(down.shape) and lora_up \(up.shape) do not share a rank")
            }
            let rank = down.shape[0], out = up.shape[0], inputs = down.elementCount / max(rank, 1)
            var alpha = Double(rank)
            if tensors.info(module + ".alpha") != nil {
                let values = try tensors.values(module + ".alpha")
                guard values.count == 1, values[0].isFinite else {
                    throw SurgeryError.malformedAdapter(path: path, tensor: module + ".alpha", message: "alpha must be one finite number")
                }
                alpha = values[0]
            } else {
                missingAlpha += 1
            }
            let kernel = Array(down.shape.dropFirst(2))
            var magnitude: ModuleDelta.Magnitude?
            if let scaleInfo = tensors.info(module + ".dora_scale") {
                let values = try tensors.values(module + ".dora_scale")
                let leading = scaleInfo.shape.first ?? 0
                let axis: ModuleDelta.NormAxis
                if leading == out && values.count == out {
                    axis = .perOutput
                } else if leading == 1 && scaleInfo.shape.count >= 2 && values.count == inputs {
                    axis = .perInput
                } else {
                    throw SurgeryError.malformedAdapter(path: path, tensor: module + ".dora_scale", message: "shape \(scaleInfo.shape) is neither [\(out), 1, …] (per output) nor [1, \(inputs), …] (per input)")
                }
                magnitude = .init(values: values, axis: axis, epsilon: Double(Float.ulpOfOne))
                notes.append("\(module): DoRA norm taken \(axis.rawValue) (dora_scale shape \(scaleInfo.shape)), plus Float32 epsilon as LyCORIS does")
            }
            let block = ModuleDelta.Block(b: try tensors.matrix(upName, rows: out, columns: rank), a: try tensors.matrix(downName, rows: rank, columns: inputs),
                                          scale: alpha / Double(rank), rowOffset: 0, columnOffset: 0)
            deltas.append(ModuleDelta(module: module, kind: kernel.isEmpty ? .linear : .convolution, outFeatures: out, inFeatures: inputs,
                                      blocks: [block], transposedInBase: false, kernel: kernel, magnitude: magnitude, bias: nil, biasScale: 0))
        }
        if missingAlpha > 0 { notes.append("\(missingAlpha) module(s) without .alpha: α = r (scale 1), kohya's rule") }
        return Adapter(path: path, format: .kohya, deltas: deltas, replacements: [], notes: notes, flattenedNames: true)
    }
}
