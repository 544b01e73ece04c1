import CheckpointCore

/// Merging into ggml block-quantized tensors (a quantized GGUF base): each row (whole blocks along
/// the innermost dimension) is dequantized exactly as gguf-py does, merged like a Float32 base (the
/// delta added in Double, the result rounded once to Float32), and quantized back with ggml's
/// reference quantizer of the tensor's own type. What requantization adds is measured per tensor:
/// Σ (dequantized result − Float32 result)², reported beside ‖ΔW‖.
enum QuantizedMerge {
    /// Whether a base tensor of `dtype` can take a delta through dequantization.
    static func canMerge(_ dtype: DType) -> Bool { dtype.isBlockQuantized && GGMLCodec.canDequantize(dtype) }

    /// Bytes of one stored row of `columns` elements (whole blocks for ggml types).
    static func rowBytes(_ dtype: DType, columns: Int) -> Int {
        if let block = dtype.blockLayout { return columns / block.elements * block.bytes }
        return columns * dtype.bits / 8
    }

    /// Keeps each quantized target's own type when ggml's quantizer for it exists; otherwise writes
    /// `fallback` (a float type) or refuses, naming the type.
    static func chooseOutputTypes(_ plan: inout MergePlan, fallback: DType?) throws {
        for output in plan.targets.keys.sorted() {
            let info = plan.outputs[output]
            guard info.dtype.isBlockQuantized, !GGMLCodec.canQuantize(info.dtype) else { continue }
            guard let fallback else { throw GGUFSurgeryError.cannotRequantize(tensor: info.name, dtype: info.dtype) }
            plan.outputs[output] = try info.with(dtype: fallback)
            plan.notes.append("\(info.name): \(info.dtype.ggmlName ?? info.dtype.userName) cannot be quantized back; written as \(fallback.userName) (--requant-fallback)")
        }
    }

    /// Rows of a block-quantized tensor as Doubles.
    static func decode(_ bytes: UnsafeRawBufferPointer, as dtype: DType, count: Int, into values: UnsafeMutableBufferPointer<Double>) throws {
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
        defer { floats.deallocate() }
        let target = UnsafeMutableBufferPointer(rebasing: floats[0..<count])
        try GGMLCodec.dequantize(dtype, from: bytes, into: target)
        for i in 0..<count { values[i] = Double(target[i]) }
    }

    /// One merged row into `dtype` blocks; returns Σ (requantized − Float32 merged)² over the row.
    static func encode(_ values: UnsafeBufferPointer<Double>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer) throws -> Double {
        let count = values.count
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
        let back = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
        defer { floats.deallocate(); back.deallocate() }
        for i in 0..<count { floats[i] = Float(values[i]) }
        let merged = UnsafeBufferPointer(rebasing: floats[0..<count])
        try GGMLCodec.quantize(dtype, from: merged, into: destination, rowLength: count)
        let requantized = UnsafeMutableBufferPointer(rebasing: back[0..<count])
        try GGMLCodec.dequantize(dtype, from: UnsafeRawBufferPointer(destination), into: requantized)
        var sum = 0.0
        for i in 0..<count {
            let difference = Double(requantized[i]) - Double(merged[i])
            sum += difference * difference
        }
        return sum
    }
}
