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
        let sketch = try RandomizedSVD(a, rank: 6)
        for i in 0..<6 { #expect(abs(sketch.svd.sigma[i] - full.sigma[i]) <= 1e-4 * full.sigma[0]) }
        for k in [2, 4, 6] {
            // Truncation error from the norms equals the error of the dense reconstruction.
            let approx = try sketch.svd.truncated(k).reconstructed()
            var residual = 0.0
            for i in a.elements.indices { residual += Double(a.elements[i] - approx.elements[i]) * Double(a.elements[i] - approx.elements[i]) }
            #expect(abs(sketch.truncationError(rank: k) - residual.squareRoot()) <= 1e-3 * residual.squareRoot())
            // The bound holds: the optimal error (full SVD tail) lies between the lower bound and the error.
            let optimal = full.sigma.dropFirst(k).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(sketch.optimalErrorLowerBound(rank: k) <= optimal * (1 + 1e-4))
            #expect(sketch.optimalErrorEstimate(rank: k) <= optimal * (1 + 1e-4))
            #expect(sketch.truncationError(rank: k) >= optimal * (1 - 1e-4))
            #expect(sketch.errorRatioEstimate(rank: k) >= 1)
        }
        // With little noise beyond the rank, the bound proves the sketch within 1 % of optimal.
        let clean = try RandomizedSVD(try Self.lowRankPlusNoise(rows: 200, columns: 150, noise: 1e-6), rank: 6)
        #expect(clean.errorRatioEstimate(rank: 6) < 1.01)
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
}
