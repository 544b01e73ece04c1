import CBLAS

/// A thin QR factorisation `A = Q·R`: `Q` is m×k with orthonormal columns, `R` is k×n upper
/// triangular, k = min(m, n). Sign convention: every diagonal entry of `R` is ≥ 0, which makes the
/// factorisation unique for full-rank `A` (and outputs reproducible).
public struct ThinQR: Sendable {
    public let q: Matrix
    public let r: Matrix

    init(q: Matrix, r: Matrix) {
        self.q = q
        self.r = r
    }

    /// Factorises `a` with LAPACK `sgeqrf_` (Householder QR) and forms Q with `sorgqr_`.
    public init(_ a: Matrix) throws(LinalgError) {
        let m = a.rows, n = a.columns, k = min(m, n)
        guard k > 0 else {
            q = Matrix(rows: m, columns: 0)
            r = Matrix(rows: 0, columns: n)
            return
        }
        guard a.isFinite else { throw .nonFinite(operation: "sgeqrf") }
        var m32 = try blasInt(m, "sgeqrf"), n32 = try blasInt(n, "sgeqrf"), k32 = try blasInt(k, "sgeqrf")
        var lda = m32
        var buffer = ColumnMajor.from(a)
        var tau = [Float](repeating: 0, count: k)
        var info: Int32 = 0
        // Workspace query (lwork = -1), then the factorisation.
        var query: Float = 0
        var lwork: Int32 = -1
        sgeqrf_(&m32, &n32, &buffer, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw .lapack(routine: "sgeqrf", info: info) }
        lwork = max(Int32(query), n32, 1)
        var work = [Float](repeating: 0, count: Int(lwork))
        sgeqrf_(&m32, &n32, &buffer, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw .lapack(routine: "sgeqrf", info: info) }

        var upper = Matrix(rows: k, columns: n)
        for i in 0..<k {
            for j in i..<n { upper.elements[i * n + j] = buffer[j * m + i] }
        }
        lwork = -1
        sorgqr_(&m32, &k32, &k32, &buffer, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw .lapack(routine: "sorgqr", info: info) }
        lwork = max(Int32(query), k32, 1)
        work = [Float](repeating: 0, count: Int(lwork))
        sorgqr_(&m32, &k32, &k32, &buffer, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw .lapack(routine: "sorgqr", info: info) }
        var orthonormal = ColumnMajor.toMatrix(buffer, rows: m, columns: k, ld: m)

        for i in 0..<k where upper.elements[i * n + i] < 0 {
            for j in 0..<n { upper.elements[i * n + j] = -upper.elements[i * n + j] }
            for row in 0..<m { orthonormal.elements[row * k + i] = -orthonormal.elements[row * k + i] }
        }
        q = orthonormal
        r = upper
    }
}
