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
