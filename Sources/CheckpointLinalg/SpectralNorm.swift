/// The largest singular value of a dense matrix by power iteration on `AᵀA` (`cblas_sgemm` on
/// vectors), for ‖W‖₂ of base weights where a full SVD would cost seconds per tensor.
public enum SpectralNorm {
    /// Power iteration from a seeded random start. The estimate approaches σ₁ from below; with the
    /// gaps of trained weight matrices, 20 iterations give it to a few parts in a thousand.
    public static func estimate(_ a: Matrix, iterations: Int = 20, seed: UInt64 = 0x5EED) throws(LinalgError) -> Double {
        guard a.rows > 0, a.columns > 0 else { return 0 }
        var random = SeededGaussian(seed: seed)
        var v = random.matrix(rows: a.columns, columns: 1)
        var sigma = 0.0
        for _ in 0..<max(iterations, 1) {
            let norm = v.frobeniusNorm
            guard norm > 0 else { return 0 }
            for i in v.elements.indices { v.elements[i] = Float(Double(v.elements[i]) / norm) }
            let av = try GEMM.product(a, .none, v, .none)
            sigma = av.frobeniusNorm
            v = try GEMM.product(a, .transposed, av, .none)
        }
        return sigma
    }
}

extension SpectralNorm {
    /// ‖A·(I − Z·Zᵀ)‖₂ for an orthonormal n×l `z`, without forming that residual: block power
    /// iteration with `block` vectors kept orthogonal to Z, so each step is one pass over A with a
    /// skinny product (`iterations` steps cost 2·iterations − 1 passes). The largest Ritz value is
    /// an estimate from below.
    public static func residual(of a: Matrix, orthogonalTo z: Matrix, block: Int = 8, iterations: Int = 4, seed: UInt64) throws(LinalgError) -> Double {
        let width = min(block, a.columns - z.columns)
        guard a.rows > 0, width > 0 else { return 0 }
        var random = SeededGaussian(seed: seed)
        var g = try ThinQR(try projectedOut(random.matrix(rows: a.columns, columns: width), z)).q
        var sigma = 0.0
        let skinny = width == SkinnyProduct.width
        for step in 0..<max(iterations, 1) {
            let x = try skinny ? SkinnyProduct.times(a, g) : GEMM.product(a, .none, g, .none)  // R·G, as G ⟂ Z
            let top = try ThinQR(x).r
            sigma = try SingularValues.double(rows: top.rows, columns: top.columns, rowMajor: top.elements.map(Double.init)).first ?? 0
            guard step < iterations - 1, sigma > 0 else { break }
            let back = try skinny ? SkinnyProduct.transposedTimes(a, x) : GEMM.product(a, .transposed, x, .none)
            g = try ThinQR(try projectedOut(back, z)).q  // Rᵀ·X
        }
        return sigma
    }

    /// H − Z·(Zᵀ·H).
    static func projectedOut(_ h: Matrix, _ z: Matrix) throws(LinalgError) -> Matrix {
        let coefficients = try GEMM.product(z, .transposed, h, .none)
        var result = h
        var failure: LinalgError?
        z.withView { zv in
            coefficients.withView { cv in
                result.withMutableView { rv in
                    do throws(LinalgError) { try GEMM.multiply(zv, .none, cv, .none, into: rv, alpha: -1, beta: 1) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return result
    }
}
