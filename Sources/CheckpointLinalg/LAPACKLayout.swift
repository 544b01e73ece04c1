import CKernels

/// LAPACK stores matrices column-major; these copy between our row-major matrices and its layout
/// (`ckpt_transpose`, tiled: the thin panels of the randomized SVD go through here several times
/// per matrix).
enum ColumnMajor {
    /// Column-major copy of `matrix` (leading dimension = rows).
    static func from(_ matrix: Matrix) -> [Float] {
        let rows = matrix.rows, columns = matrix.columns
        var result = [Float](repeating: 0, count: rows * columns)
        matrix.elements.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                guard let from = source.baseAddress, let to = target.baseAddress else { return }
                ckpt_transpose(from, rows, columns, columns, to, rows)
            }
        }
        return result
    }

    /// Row-major matrix of the top-left `rows × columns` block of a column-major buffer with leading dimension `ld`.
    static func toMatrix(_ buffer: [Float], rows: Int, columns: Int, ld: Int) -> Matrix {
        var result = Matrix(rows: rows, columns: columns)
        guard rows > 0, columns > 0, buffer.count >= (columns - 1) * ld + rows else { return result }
        buffer.withUnsafeBufferPointer { source in
            result.elements.withUnsafeMutableBufferPointer { target in
                guard let from = source.baseAddress, let to = target.baseAddress else { return }
                // The buffer is the row-major columns × rows matrix with rows `ld` apart.
                ckpt_transpose(from, columns, rows, ld, to, columns)
            }
        }
        return result
    }
}
