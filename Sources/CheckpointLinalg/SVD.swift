import CBLAS

/// A thin singular value decomposition `A = U·diag(σ)·Vᵀ` with k = min(m, n): `u` m×k, `sigma`
/// k values in decreasing order, `vt` k×n.
///
/// Sign convention (deterministic outputs): in each left singular vector (column of `u`) the entry
/// of largest magnitude is positive (the first such entry on ties); the matching row of `vt` is
/// flipped with it, so `U·diag(σ)·Vᵀ` is unchanged.
public struct ThinSVD: Sendable {
    public var u: Matrix
    public var sigma: [Float]
    public var vt: Matrix

    /// Decomposes `a` with LAPACK `sgesdd_` (divide and conquer, `jobz = 'S'`).
    public init(_ a: Matrix) throws(LinalgError) {
        let m = a.rows, n = a.columns, k = min(m, n)
        guard k > 0 else {
            u = Matrix(rows: m, columns: 0)
            sigma = []
            vt = Matrix(rows: 0, columns: n)
            return
        }
        guard a.isFinite else { throw .nonFinite(operation: "sgesdd") }
        var m32 = try blasInt(m, "sgesdd"), n32 = try blasInt(n, "sgesdd")
        var lda = m32, ldu = m32, ldvt = try blasInt(k, "sgesdd")
        var buffer = ColumnMajor.from(a)
        var s = [Float](repeating: 0, count: k)
        var left = [Float](repeating: 0, count: m * k)
        var right = [Float](repeating: 0, count: k * n)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz = CChar(UInt8(ascii: "S"))
        var info: Int32 = 0
        var query: Float = 0
        var lwork: Int32 = -1
        sgesdd_(&jobz, &m32, &n32, &buffer, &lda, &s, &left, &ldu, &right, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(routine: "sgesdd", info: info) }
        lwork = max(Int32(query), 1)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesdd_(&jobz, &m32, &n32, &buffer, &lda, &s, &left, &ldu, &right, &ldvt, &work, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(routine: "sgesdd", info: info) }
        u = ColumnMajor.toMatrix(left, rows: m, columns: k, ld: m)
        vt = ColumnMajor.toMatrix(right, rows: k, columns: n, ld: k)
        sigma = s
        Self.normaliseSigns(u: &u, vt: &vt)
    }

    init(u: Matrix, sigma: [Float], vt: Matrix) {
        self.u = u
        self.sigma = sigma
        self.vt = vt
    }

    /// Applies the sign convention described on the type.
    static func normaliseSigns(u: inout Matrix, vt: inout Matrix) {
        let m = u.rows, k = u.columns, n = vt.columns
        for column in 0..<k {
            var best = 0
            var bestMagnitude: Float = -1
            for row in 0..<m where abs(u.elements[row * k + column]) > bestMagnitude {
                bestMagnitude = abs(u.elements[row * k + column])
                best = row
            }
            guard m > 0, u.elements[best * k + column] < 0 else { continue }
            for row in 0..<m { u.elements[row * k + column] = -u.elements[row * k + column] }
            for j in 0..<n { vt.elements[column * n + j] = -vt.elements[column * n + j] }
        }
    }

    /// `U·diag(σ)·Vᵀ` (for checks and dense reconstruction).
    public func reconstructed() throws(LinalgError) -> Matrix {
        var scaled = u
        let k = u.columns
        for row in 0..<u.rows {
            for j in 0..<k { scaled.elements[row * k + j] *= sigma[j] }
        }
        return try GEMM.product(scaled, .none, vt, .none)
    }
}

/// The exact singular values (in Double, LAPACK `dgesdd_`, values only) of a small matrix, for
/// references and for checks where Float32 rounding would blur the answer.
public enum SingularValues {
    public static func double(rows m: Int, columns n: Int, rowMajor elements: [Double]) throws(LinalgError) -> [Double] {
        let k = min(m, n)
        guard k > 0 else { return [] }
        guard elements.count == m * n else { throw .shapeMismatch(operation: "dgesdd", details: "\(elements.count) elements for \(m)×\(n)") }
        guard elements.allSatisfy(\.isFinite) else { throw .nonFinite(operation: "dgesdd") }
        var m32 = try blasInt(m, "dgesdd"), n32 = try blasInt(n, "dgesdd")
        var lda = m32, one: Int32 = 1
        var buffer = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { buffer[j * m + i] = elements[i * n + j] } }
        var s = [Double](repeating: 0, count: k)
        var unusedU = [Double](repeating: 0, count: 1), unusedVT = [Double](repeating: 0, count: 1)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz = CChar(UInt8(ascii: "N"))
        var info: Int32 = 0
        var query: Double = 0
        var lwork: Int32 = -1
        dgesdd_(&jobz, &m32, &n32, &buffer, &lda, &s, &unusedU, &one, &unusedVT, &one, &query, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(routine: "dgesdd", info: info) }
        lwork = max(Int32(query), 1)
        var work = [Double](repeating: 0, count: Int(lwork))
        dgesdd_(&jobz, &m32, &n32, &buffer, &lda, &s, &unusedU, &one, &unusedVT, &one, &work, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(routine: "dgesdd", info: info) }
        return s
    }
}
