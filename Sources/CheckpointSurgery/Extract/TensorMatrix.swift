import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// A stored tensor read as a Float32 matrix: first dimension × the product of the rest (the
/// Linear / flattened-convolution orientation). ggml block types are dequantized (bit-exact with
/// gguf-py); their blocks run along the last dimension, so they never straddle matrix rows.
enum TensorMatrix {
    static func read(_ reader: any CheckpointReader, index: Int) throws -> Matrix {
        let info = reader.tensors[index]
        guard isReadable(info.dtype) else { throw SurgeryError.notFloat(tensor: info.name, dtype: info.dtype) }
        let rows = info.shape.first ?? 1
        let columns = rows > 0 ? info.elementCount / rows : 0
        let data = try reader.data(at: index)
        var matrix = Matrix(rows: rows, columns: columns)
        if info.dtype.isBlockQuantized {
            try matrix.elements.withUnsafeMutableBufferPointer { target in
                try GGMLCodec.dequantize(info.dtype, from: data.bytes, into: target)
            }
        } else {
            try matrix.elements.withUnsafeMutableBytes { target in
                try ElementConverter.convert(data.bytes, from: info.dtype, into: target, to: .f32, count: info.elementCount)
            }
        }
        return matrix
    }

    /// Float element types and the ggml block types ckpt dequantizes.
    static func isReadable(_ dtype: DType) -> Bool {
        (dtype.isFloatingPoint && !dtype.isPacked) || GGMLCodec.canDequantize(dtype)
    }
}
