/// LAPACK stores matrices column-major; these copy between our row-major matrices and its layout.
enum ColumnMajor {
    /// Column-major copy of `matrix` (leading dimension = rows).
    static func from(_ matrix: Matrix) -> [Float] {
        var result = [Float](repeating: 0, count: matrix.rows * matrix.columns)
        for i in 0..<matrix.rows {
            for j in 0..<matrix.columns { result[j * matrix.rows + i] = matrix.elements[i * matrix.columns + j] }
        }
        return result
    }

    /// Row-major matrix of the top-left `rows × columns` block of a column-major buffer with leading dimension `ld`.
    static func toMatrix(_ buffer: [Float], rows: Int, columns: Int, ld: Int) -> Matrix {
        var result = Matrix(rows: rows, columns: columns)
        for j in 0..<columns {
            for i in 0..<rows { result.elements[i * columns + j] = buffer[j * ld + i] }
        }
        return result
    }
}
