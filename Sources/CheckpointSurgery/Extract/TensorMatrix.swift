import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// A stored tensor read as a Float32 matrix: first dimension × the product of the rest (the
/// Linear / flattened-convolution orientation).
enum TensorMatrix {
    static func read(_ reader: any CheckpointReader, index: Int) throws -> Matrix {
        let info = reader.tensors[index]
        guard info.dtype.isFloatingPoint, !info.dtype.isPacked else { throw SurgeryError.notFloat(tensor: info.name, dtype: info.dtype) }
        let rows = info.shape.first ?? 1
        let columns = rows > 0 ? info.elementCount / rows : 0
        let data = try reader.data(at: index)
        var matrix = Matrix(rows: rows, columns: columns)
        try matrix.elements.withUnsafeMutableBytes { target in
            try ElementConverter.convert(data.bytes, from: info.dtype, into: target, to: .f32, count: info.elementCount)
        }
        return matrix
    }
}
