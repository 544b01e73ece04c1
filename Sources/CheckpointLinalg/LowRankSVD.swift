/// The exact thin SVD of a low-rank product `scale · B·A` computed from its factors, never forming
/// the m×n product: QR of `B` (m×r) and of `Aᵀ` (n×r), SVD of the small core `scale · R_B·R_Aᵀ`,
/// then `U = Q_B·U_c`, `Vᵀ = V_cᵀ·Q_Aᵀ`. Cost O((m + n)·r²).
///
/// The result has k = min(m, n, r) components, σ in decreasing order, and the sign convention of
/// `ThinSVD` applied to the final `U` (so the same factors always give the same output).
public enum LowRankSVD {
    /// `b` is m×r ("up"), `a` is r×n ("down").
    public static func ofProduct(b: Matrix, a: Matrix, scale: Float = 1) throws(LinalgError) -> ThinSVD {
        guard b.columns == a.rows else {
            throw .shapeMismatch(operation: "LowRankSVD", details: "B \(b.rows)×\(b.columns), A \(a.rows)×\(a.columns)")
        }
        // Every call here is small (r columns): OpenBLAS on one thread, the two independent halves
        // on two threads of our own, instead of OpenBLAS's idle threads spinning between calls
        // (measured: a third of resize's time was sched_yield).
        return try BLASThreads.single { () throws(LinalgError) -> ThinSVD in
            let (qrB, qrA) = try TwoThreads.both({ () throws(LinalgError) in try ThinQR(b) }, { () throws(LinalgError) in try ThinQR(a.transposed()) })
            // core = scale · R_B · R_Aᵀ, (k1 × r)·(r × k2)
            let core = try GEMM.product(qrB.r, .none, qrA.r, .transposed, alpha: scale)
            let small = try ThinSVD(core)
            var (u, vt) = try TwoThreads.both({ () throws(LinalgError) in try GEMM.product(qrB.q, .none, small.u, .none) },
                                        { () throws(LinalgError) in try GEMM.product(small.vt, .none, qrA.q, .transposed) })
            ThinSVD.normaliseSigns(u: &u, vt: &vt)
            return ThinSVD(u: u, sigma: small.sigma, vt: vt)
        }
    }
}
