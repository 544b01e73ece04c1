import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Reads a llama.cpp LoRA adapter (GGUF, `general.type = adapter`, formats.md §2.9) as llama.cpp's
/// runtime and llama-export-lora apply it: one delta per `<base tensor>.lora_a` / `.lora_b` pair,
/// rank = `lora_b.ne[0]`, scale = α / rank, or 1 when `adapter.lora.alpha` is 0 or missing.
///
/// Outermost-first shapes: lora_a [r, in], lora_b [out, r]; `token_embd.weight` is special, its lora_a
/// being PEFT's A transposed ([vocab, r]) so that ΔW = lora_a · lora_bᵀ has the base's [vocab, dim].
/// Modules are the base tensor names without `.weight`, so they match a llama.cpp-named base as they are.
enum GGUFAdapterLoader {
    static let embedding = "token_embd.weight"

    /// Whether the file at `path` is a GGUF adapter (by its `general.type`), without reading tensors.
    static func isAdapter(_ reader: any CheckpointReader) -> Bool {
        reader.metadata.gguf.map(GGUFLoRAAdapter.isAdapter) ?? false
    }

    static func load(path: String) throws -> Adapter {
        let reader = try Checkpoint.open(path)
        guard let metadata = reader.metadata.gguf else {
            throw SurgeryError.adapterNotRecognised(path: path, reason: "--adapter-format gguf needs a GGUF file (a llama.cpp LoRA adapter)")
        }
        let layout: GGUFLoRAAdapter
        do {
            layout = try GGUFLoRAAdapter(metadata: metadata, tensors: reader.tensors, file: path)
        } catch {
            throw SurgeryError.adapterConfig(path: path, message: error.description)
        }
        let tensors = AdapterTensors(reader: reader)
        let deltas = try layout.pairs.map { pair in try delta(pair, alpha: layout.alpha, tensors: tensors) }
        let scaleRule = layout.alpha != 0 ? "scale = adapter.lora.alpha / rank (alpha \(layout.alpha))" : "adapter.lora.alpha is 0 or missing: scale 1, as llama.cpp"
        let normCount = reader.tensors.count - 2 * layout.pairs.count
        var notes = ["GGUF LoRA (llama.cpp): \(scaleRule)"]
        if normCount > 0 { notes.append("\(normCount) *_norm.weight tensor(s) in the adapter ignored, as llama.cpp ignores them") }
        return Adapter(path: path, format: .gguf, deltas: deltas, replacements: [], notes: notes, flattenedNames: false)
    }

    static func delta(_ pair: GGUFLoRAAdapter.Pair, alpha: Float, tensors: AdapterTensors) throws -> ModuleDelta {
        let aInfo = tensors.reader.tensors[pair.a], bInfo = tensors.reader.tensors[pair.b]
        let rank = pair.rank
        guard rank > 0 else {
            throw SurgeryError.malformedAdapter(path: tensors.path, tensor: bInfo.name, message: "rank 0 (lora_b has no columns)")
        }
        // llama.cpp: float scale = alpha != 0 ? adapter_scale * alpha / rank : adapter_scale.
        let scale = alpha != 0 ? Double(alpha) / Double(rank) : 1
        let module = pair.base.hasSuffix(".weight") ? String(pair.base.dropLast(".weight".count)) : pair.base
        let out = bInfo.shape[0]
        if pair.base == embedding {
            let vocab = aInfo.shape[0]
            // Stored transposed: PEFT's A is lora_aᵀ, so the products are those of a PEFT embedding LoRA.
            let a = try matrix(pair.a, rows: vocab, columns: rank, tensors: tensors).transposed()
            let b = try matrix(pair.b, rows: out, columns: rank, tensors: tensors)
            return ModuleDelta(module: module, kind: .embedding, outFeatures: out, inFeatures: vocab,
                               blocks: [.init(b: b, a: a, scale: scale, rowOffset: 0, columnOffset: 0)],
                               transposedInBase: true, kernel: [], magnitude: nil, bias: nil, biasScale: scale)
        }
        let inputs = aInfo.shape[1]
        let a = try matrix(pair.a, rows: rank, columns: inputs, tensors: tensors)
        let b = try matrix(pair.b, rows: out, columns: rank, tensors: tensors)
        return ModuleDelta(module: module, kind: .linear, outFeatures: out, inFeatures: inputs,
                           blocks: [.init(b: b, a: a, scale: scale, rowOffset: 0, columnOffset: 0)],
                           transposedInBase: false, kernel: [], magnitude: nil, bias: nil, biasScale: scale)
    }

    /// A factor as a Float32 matrix. llama.cpp can run adapters with block-quantized factors
    /// (convert_lora_to_gguf.py --outtype q8_0); they are dequantized exactly as gguf-py does.
    static func matrix(_ index: Int, rows: Int, columns: Int, tensors: AdapterTensors) throws -> Matrix {
        let info = tensors.reader.tensors[index]
        guard info.dtype.isBlockQuantized else { return try tensors.matrix(info.name, rows: rows, columns: columns) }
        guard info.elementCount == rows * columns, GGMLCodec.canDequantize(info.dtype) else {
            throw SurgeryError.malformedAdapter(path: tensors.path, tensor: info.name, message: "\(info.dtype.ggmlName ?? info.dtype.userName) factor of \(info.elementCount) elements cannot be read as \(rows)×\(columns)")
        }
        let data = try tensors.reader.data(at: index)
        var values = [Float](repeating: 0, count: info.elementCount)
        try values.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(info.dtype, from: data.bytes, into: $0) }
        return try Matrix(rows: rows, columns: columns, elements: values)
    }
}
