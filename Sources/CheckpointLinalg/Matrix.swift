/// A dense Float32 matrix stored row-major with no padding (leading dimension = `columns`).
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// Row-major elements: element (i, j) is `elements[i * columns + j]`.
    public var elements: [Float]

    /// A zero matrix.
    public init(rows: Int, columns: Int) {
        self.rows = max(rows, 0)
        self.columns = max(columns, 0)
        elements = [Float](repeating: 0, count: self.rows * self.columns)
    }

    /// A matrix over `elements` (row-major); the count must be `rows × columns`.
    public init(rows: Int, columns: Int, elements: [Float]) throws(LinalgError) {
        guard rows >= 0, columns >= 0, elements.count == rows * columns else {
            throw .shapeMismatch(operation: "Matrix", details: "\(elements.count) elements for \(rows)×\(columns)")
        }
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// The identity of size `n`.
    public static func identity(_ n: Int) -> Matrix {
        var matrix = Matrix(rows: n, columns: n)
        for i in 0..<n { matrix.elements[i * n + i] = 1 }
        return matrix
    }

    public subscript(row: Int, column: Int) -> Float {
        get { elements[row * columns + column] }
        set { elements[row * columns + column] = newValue }
    }

    public func transposed() -> Matrix {
        var result = Matrix(rows: columns, columns: rows)
        for i in 0..<rows {
            for j in 0..<columns { result.elements[j * rows + i] = elements[i * columns + j] }
        }
        return result
    }

    /// Frobenius norm, accumulated in Double.
    public var frobeniusNorm: Double {
        var sum = 0.0
        for value in elements { sum += Double(value) * Double(value) }
        return sum.squareRoot()
    }

    /// No NaN or infinity (an all-ones exponent): the largest exponent field, a loop without early
    /// exit that vectorises (the randomized SVD checks every panel it factorises).
    public var isFinite: Bool {
        elements.withUnsafeBufferPointer { buffer in
            var largest: UInt32 = 0
            for value in buffer { largest = max(largest, value.bitPattern & 0x7F80_0000) }
            return largest != 0x7F80_0000
        }
    }

    /// Calls `body` with a read-only view of the whole matrix.
    public func withView<T>(_ body: (MatrixView) throws -> T) rethrows -> T {
        try elements.withUnsafeBufferPointer { buffer in
            try body(MatrixView(base: buffer.baseAddress, rows: rows, columns: columns, leadingDimension: max(columns, 1)))
        }
    }

    /// Calls `body` with a writable view of the whole matrix.
    public mutating func withMutableView<T>(_ body: (MutableMatrixView) throws -> T) rethrows -> T {
        let (rows, columns) = (self.rows, self.columns)
        return try elements.withUnsafeMutableBufferPointer { buffer in
            try body(MutableMatrixView(base: buffer.baseAddress, rows: rows, columns: columns, leadingDimension: max(columns, 1)))
        }
    }
}

/// A read-only row-major window onto Float32 memory: `rows × columns` elements, consecutive rows
/// `leadingDimension` elements apart (so a view can select a block of a larger matrix).
public struct MatrixView {
    public let base: UnsafePointer<Float>?
    public let rows: Int
    public let columns: Int
    public let leadingDimension: Int

    public init(base: UnsafePointer<Float>?, rows: Int, columns: Int, leadingDimension: Int) {
        self.base = base
        self.rows = rows
        self.columns = columns
        self.leadingDimension = leadingDimension
    }

    /// Rows `range` of this view (same columns, same leading dimension).
    public func rows(_ range: Range<Int>) -> MatrixView {
        MatrixView(base: base.map { $0 + range.lowerBound * leadingDimension }, rows: range.count, columns: columns, leadingDimension: leadingDimension)
    }

    /// Columns `range` of this view (same rows, same leading dimension).
    public func columns(_ range: Range<Int>) -> MatrixView {
        MatrixView(base: base.map { $0 + range.lowerBound }, rows: rows, columns: range.count, leadingDimension: leadingDimension)
    }

    /// A copy of the viewed elements as a packed matrix.
    public func copy() -> Matrix {
        var result = Matrix(rows: rows, columns: columns)
        guard let base else { return result }
        for i in 0..<rows {
            for j in 0..<columns { result.elements[i * columns + j] = base[i * leadingDimension + j] }
        }
        return result
    }
}

/// A writable row-major window onto Float32 memory (see `MatrixView`).
public struct MutableMatrixView {
    public let base: UnsafeMutablePointer<Float>?
    public let rows: Int
    public let columns: Int
    public let leadingDimension: Int

    public init(base: UnsafeMutablePointer<Float>?, rows: Int, columns: Int, leadingDimension: Int) {
        self.base = base
        self.rows = rows
        self.columns = columns
        self.leadingDimension = leadingDimension
    }

    public var readOnly: MatrixView {
        MatrixView(base: base.map { UnsafePointer($0) }, rows: rows, columns: columns, leadingDimension: leadingDimension)
    }
}
