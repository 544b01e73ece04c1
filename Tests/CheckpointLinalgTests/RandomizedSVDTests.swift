import Testing
@testable import CheckpointLinalg

@Suite struct RandomizedSVDTests {
    /// A rank-6 matrix with a decaying spectrum plus small noise, seeded.
    static func lowRankPlusNoise(rows: Int, columns: Int, noise: Float) throws -> Matrix {
        var random = SeededGaussian(seed: 42)
        var u = random.matrix(rows: rows, columns: 6)
        for i in 0..<rows { for j in 0..<6 { u[i, j] *= Float([1.0, 0.6, 0.4, 0.25, 0.15, 0.1][j]) } }
        var product = try GEMM.product(u, .none, random.matrix(rows: 6, columns: columns), .none)
        for i in product.elements.indices { product.elements[i] += noise * random.next() }
        return product
    }

    @Test func sketchMatchesFullSVDAndItsErrorIsExact() throws {
        let a = try Self.lowRankPlusNoise(rows: 200, columns: 150, noise: 1e-3)
        let full = try ThinSVD(a)
        let fromNorms = try RandomizedSVD(a, rank: 6)
        var sketch = fromNorms
        try sketch.formResidual(of: a)
        try sketch.estimateResidualSpectralNorm(of: a)
        for i in 0..<6 { #expect(abs(sketch.svd.sigma[i] - full.sigma[i]) <= 1e-4 * full.sigma[0]) }
        for k in [2, 4, 6] {
            // Truncation error with the formed residual equals the error of the dense reconstruction;
            // the one from norms brackets it within its rounding allowance.
            let approx = try sketch.svd.truncated(k).reconstructed()
            var residual = 0.0
            for i in a.elements.indices { residual += Double(a.elements[i] - approx.elements[i]) * Double(a.elements[i] - approx.elements[i]) }
            #expect(abs(sketch.truncationError(rank: k) - residual.squareRoot()) <= 1e-3 * residual.squareRoot())
            #expect(fromNorms.truncationErrorBound(rank: k) >= residual.squareRoot())
            let low = fromNorms.truncationError(rank: k) * fromNorms.truncationError(rank: k) - fromNorms.residualUncertainty
            #expect(low <= residual)
            // The bound holds: the optimal error (full SVD tail) lies between the lower bound and the error.
            let optimal = full.sigma.dropFirst(k).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(sketch.optimalErrorLowerBound(rank: k) <= optimal * (1 + 1e-4))
            #expect(sketch.optimalErrorEstimate(rank: k) <= optimal * (1 + 1e-4))
            #expect(fromNorms.optimalErrorEstimate(rank: k) <= optimal * (1 + 1e-4))  // with ‖R‖_F for ‖R‖₂
            #expect(sketch.truncationError(rank: k) >= optimal * (1 - 1e-4))
            #expect(sketch.errorRatioEstimate(rank: k) >= 1)
        }
        // With little noise beyond the rank, the bound proves the sketch within 1 % of optimal once
        // the residual is formed (from norms, the tail is below Float32's resolution of ‖A‖²).
        let cleanMatrix = try Self.lowRankPlusNoise(rows: 200, columns: 150, noise: 1e-6)
        var clean = try RandomizedSVD(cleanMatrix, rank: 6)
        try clean.formResidual(of: cleanMatrix)
        #expect(clean.errorRatioEstimate(rank: 6) < 1.01)
        // A tail of 1 % of ‖A‖ is resolved, and the estimate (not the resolution) proves it.
        let noisyMatrix = try Self.lowRankPlusNoise(rows: 200, columns: 150, noise: 1e-2)
        var noisy = try RandomizedSVD(noisyMatrix, rank: 6)
        try noisy.formResidual(of: noisyMatrix)
        try noisy.estimateResidualSpectralNorm(of: noisyMatrix)
        #expect(noisy.residualUncertainty < 1e-2 * noisy.residualFrobeniusSquared)
        #expect(noisy.errorRatioEstimate(rank: 6) < 1.01)
    }

    @Test func sameSeedSameBitsOtherSeedOtherSketch() throws {
        let a = try Self.lowRankPlusNoise(rows: 120, columns: 90, noise: 1e-2)
        let first = try RandomizedSVD(a, rank: 5, options: .init(seed: 7))
        let second = try RandomizedSVD(a, rank: 5, options: .init(seed: 7))
        #expect(first.svd.u == second.svd.u && first.svd.vt == second.svd.vt && first.svd.sigma == second.svd.sigma)
        let other = try RandomizedSVD(a, rank: 5, options: .init(seed: 8))
        #expect(other.svd.u != first.svd.u)
    }

    @Test func spectralNormMatchesLargestSingularValue() throws {
        let a = try Self.lowRankPlusNoise(rows: 80, columns: 60, noise: 1e-2)
        let sigma = try ThinSVD(a).sigma[0]
        #expect(abs(try SpectralNorm.estimate(a) - Double(sigma)) <= 1e-4 * Double(sigma))
    }

    /// The implicit residual norm ‖A(I − ZZᵀ)‖₂ agrees with the largest σ of the formed residual.
    @Test func residualSpectralNormWithoutFormingTheResidual() throws {
        let a = try Self.lowRankPlusNoise(rows: 90, columns: 70, noise: 1e-2)
        var random = SeededGaussian(seed: 5)
        let z = try ThinQR(random.matrix(rows: 70, columns: 8)).q
        let residual = try GEMM.product(try GEMM.product(a, .none, z, .none), .none, z, .transposed)
        var formed = a
        for i in formed.elements.indices { formed.elements[i] -= residual.elements[i] }
        let sigma = Double(try ThinSVD(formed).sigma[0])
        let estimate = try SpectralNorm.residual(of: a, orthogonalTo: z, seed: 1)
        #expect(estimate <= sigma * (1 + 1e-5) && estimate >= 0.99 * sigma, "\(estimate) vs \(sigma)")
    }

    /// ‖A‖² through dsdot agrees with the Double sum, and a NaN shows in it.
    @Test func squaredSumIsTheDoubleSumAndSeesNaN() throws {
        var a = try Self.lowRankPlusNoise(rows: 40, columns: 30, noise: 1e-2)
        let reference = a.elements.reduce(0.0) { $0 + Double($1) * Double($1) }
        // OpenBLAS's dsdot squares in Float32 and adds in Double: within u/2 relative.
        #expect(abs(a.squaredSum - reference) <= 6e-8 * reference)
        a.elements[17] = .nan
        #expect(!a.squaredSum.isFinite)
    }

    @Test func loraFactorsPutSigmaOnTheUpSide() throws {
        let a = try Self.lowRankPlusNoise(rows: 30, columns: 20, noise: 0)
        let svd = try ThinSVD(a)
        let (b, down) = svd.loraFactors(rank: 6, scale: 2)
        #expect(b.rows == 30 && b.columns == 6 && down.rows == 6 && down.columns == 20)
        let product = try GEMM.product(b, .none, down, .none, alpha: 2)
        for i in a.elements.indices { #expect(abs(product.elements[i] - a.elements[i]) <= 1e-4) }
        // Rows of A are orthonormal (A = Vᵀ_k).
        let gram = try GEMM.product(down, .none, down, .transposed)
        for i in 0..<6 { for j in 0..<6 { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) <= 1e-5) } }
    }

    /// The Double Gram's defect bounds the exact ‖MᵀM − I‖_F from above within its allowance
    /// (n·u_d·l, here 3·2⁻⁵³·2), on columns whose Gram is known exactly.
    @Test func orthonormalityDefectIsExactUpToItsAllowance() throws {
        // Columns (1, 0, 0) and (a, b, c): MᵀM − I = [[0, a], [a, a² + b² + c² − 1]].
        let (a, b, c): (Float, Float, Float) = (0x1p-20, 1 - 0x1p-22, 0x1p-12)
        let m = try Matrix(rows: 3, columns: 2, elements: [1, a, 0, b, 0, c])
        let (da, db, dc) = (Double(a), Double(b), Double(c))
        let off = da * da + db * db + dc * dc - 1
        let exact = (2 * da * da + off * off).squareRoot()
        let allowance = 3 * Double.ulpOfOne / 2 * 2 * 1.01
        #expect(m.orthonormalityDefect >= exact)
        #expect(m.orthonormalityDefect <= exact + allowance * (1 + 1e-12) + 1e-15 * exact)
        // A Householder Q of Float32 is orthonormal to a few ulps, far below a Float32 Gram's λ√n·u·l.
        var random = SeededGaussian(seed: 3)
        let q = try ThinQR(random.matrix(rows: 2048, columns: 64)).q
        #expect(q.orthonormalityDefect < RandomizedSVD.roundingBound(inner: 2048) * 64 / 100)
        #expect(q.orthonormalityDefect > 0)
    }

    /// A rank-64 ΔW (the benchmark's k_proj shape, B·A of Gaussian factors) sketched at rank 32 with
    /// l = 64 is certified within 1 % of optimal from norms alone, and the certificate is true.
    @Test func exactRankDeltaIsCertifiedFromNorms() throws {
        var random = SeededGaussian(seed: 11)
        let delta = try GEMM.product(random.matrix(rows: 256, columns: 64), .none, random.matrix(rows: 64, columns: 2048), .none, alpha: 4e-4)
        let sketch = try RandomizedSVD(delta, rank: 32, options: .init(oversampling: 32))
        #expect(!sketch.residualFormed && !sketch.spectralNormEstimated)
        let ratio = sketch.errorRatioEstimate(rank: 32)
        #expect(ratio >= 1 && ratio <= 1.01, "\(ratio)")
        let optimal = try ThinSVD(delta).sigma.dropFirst(32).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(sketch.truncationErrorBound(rank: 32) >= optimal)
        #expect(sketch.optimalErrorEstimate(rank: 32) <= optimal * (1 + 1e-5))
        #expect(sketch.truncationErrorBound(rank: 32) <= ratio * sketch.optimalErrorEstimate(rank: 32) * (1 + 1e-12))
    }

    /// The two-thread start gives the Gaussian start the single generator gives, bit for bit (an odd
    /// count too: the pieces start at whole Box–Muller pairs), and ‖A‖² within dsdot's u/2.
    @Test(arguments: [(301, 221, 7), (3, 5, 3), (1000, 70, 33)])
    func parallelStartIsTheSequentialSequence(shape: (Int, Int, Int)) throws {
        let (m, n, l) = shape
        var random = SeededGaussian(seed: 77)
        let a = random.matrix(rows: m, columns: n)
        var omega = Matrix(rows: n, columns: l)
        let energy = RandomizedSVD.startInParallel(a, omega: &omega, seed: 1234)
        var sequential = SeededGaussian(seed: 1234)
        #expect(omega == sequential.matrix(rows: n, columns: l))
        let reference = a.elements.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(energy - reference) <= 6e-8 * reference)
    }
}
