/// A randomized truncated SVD of a dense matrix (Halko, Martinsson & Tropp, 2011): a seeded Gaussian
/// sketch `Y = A·Ω` with oversampling, power iterations re-orthonormalised by QR, then the exact SVD
/// of the small `QᵀA`. Cost O(m·n·l·(2q + 3)) for l = k + p sketch columns and q iterations, instead
/// of O(m·n·min(m, n)) for a full SVD.
///
/// The residual `R = A − Q·QᵀA` is formed once, which makes the error of every truncation exact. The
/// optimal error is estimated a posteriori from how much the last power iteration still gained
/// (`optimalErrorEstimate`), never below a rigorous Ky Fan lower bound, so callers can tell when the
/// sketch is good enough and otherwise fall back to `ThinSVD`.
public struct RandomizedSVD: Sendable {
    public struct Options: Sendable {
        /// Extra sketch columns beyond the rank wanted (p).
        public var oversampling: Int
        /// Power (subspace) iterations (q): each sharpens a slowly decaying spectrum.
        public var powerIterations: Int
        public var seed: UInt64

        public init(oversampling: Int = 10, powerIterations: Int = 2, seed: UInt64 = 0) {
            self.oversampling = max(oversampling, 0)
            self.powerIterations = max(powerIterations, 0)
            self.seed = seed
        }
    }

    /// The sketch's l components (σ̃ decreasing, sign convention of `ThinSVD`).
    public var svd: ThinSVD
    /// ‖A‖²_F.
    public var frobeniusSquared: Double
    /// ‖A − QQᵀA‖²_F, exact.
    public var residualFrobeniusSquared: Double
    /// ‖A − QQᵀA‖₂, by power iteration (an estimate from below).
    public var residualSpectralNorm: Double
    /// σ² of the sketch one power iteration earlier (empty without power iterations).
    var previousSquares: [Double] = []

    /// Sketches `a` for `rank` components (l = min(rank + oversampling, m, n) columns).
    public init(_ a: Matrix, rank: Int, options: Options = Options()) throws(LinalgError) {
        let m = a.rows, n = a.columns
        let l = min(max(rank, 1) + options.oversampling, m, n)
        guard l > 0 else {
            svd = ThinSVD(u: Matrix(rows: m, columns: 0), sigma: [], vt: Matrix(rows: 0, columns: n))
            frobeniusSquared = 0
            residualFrobeniusSquared = 0
            residualSpectralNorm = 0
            return
        }
        guard a.isFinite else { throw .nonFinite(operation: "randomized SVD") }
        var random = SeededGaussian(seed: options.seed)
        let omega = random.matrix(rows: n, columns: l)
        var q = try ThinQR(try GEMM.product(a, .none, omega, .none)).q
        for iteration in 0..<options.powerIterations {
            let projected = try GEMM.product(a, .transposed, q, .none)  // Aᵀ·Q = (QᵀA)ᵀ
            if iteration == options.powerIterations - 1 {
                // The previous sketch's spectrum comes free: QᵀA of the previous Q is this product's transpose.
                previousSquares = try ThinSVD(projected).sigma.map { Double($0) * Double($0) }
            }
            let z = try ThinQR(projected).q
            q = try ThinQR(try GEMM.product(a, .none, z, .none)).q
        }
        let small = try GEMM.product(q, .transposed, a, .none)  // l × n
        let core = try ThinSVD(small)
        var u = try GEMM.product(q, .none, core.u, .none)
        var vt = core.vt
        ThinSVD.normaliseSigns(u: &u, vt: &vt)
        svd = ThinSVD(u: u, sigma: core.sigma, vt: vt)
        let total = a.frobeniusNorm
        frobeniusSquared = total * total
        // R = A − Q·(QᵀA), formed once: ‖A‖² − ‖QᵀA‖² in Float32 would cancel to noise exactly when
        // the sketch is good.
        var residual = a
        var failure: LinalgError?
        q.withView { qv in
            small.withView { sv in
                residual.withMutableView { rv in
                    do throws(LinalgError) { try GEMM.multiply(qv, .none, sv, .none, into: rv, alpha: -1, beta: 1) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        let rest = residual.frobeniusNorm
        residualFrobeniusSquared = rest * rest
        residualSpectralNorm = try SpectralNorm.estimate(residual, iterations: 12, seed: options.seed &+ 1)
    }

    /// ‖A − A_k‖_F for the rank-k truncation of the sketch: the sketch's tail plus the residual.
    public func truncationError(rank k: Int) -> Double {
        (tailSquared(from: k) + residualFrobeniusSquared).squareRoot()
    }

    /// A lower bound of the optimal rank-k error min ‖A − X‖_F over rank-k X. Since
    /// AᵀA = (QᵀA)ᵀ(QᵀA) + RᵀR, Ky Fan's inequality bounds the top-k energy of A by the sketch's top-k
    /// energy plus min(‖R‖²_F, k·‖R‖²₂).
    public func optimalErrorLowerBound(rank k: Int) -> Double {
        let spill = min(residualFrobeniusSquared, Double(k) * residualSpectralNorm * residualSpectralNorm)
        return max(tailSquared(from: k) + residualFrobeniusSquared - spill, 0).squareRoot()
    }

    /// An estimate of the optimal rank-k error. Each power iteration shrinks the top-k energy the
    /// sketch still misses by at least γ = (‖R‖₂ / σ̃_k)² (subspace iteration converges by
    /// (σ_{l+1}/σ_k)² per step in angle, faster in energy), so what the last iteration gained, δ,
    /// bounds what remains by δ·γ/(1 − γ). Without a gap (γ near 1) this says nothing and the
    /// rigorous `optimalErrorLowerBound` stands.
    public func optimalErrorEstimate(rank k: Int) -> Double {
        let rigorous = optimalErrorLowerBound(rank: k)
        guard k > 0, k <= svd.sigma.count, previousSquares.count >= k, svd.sigma[k - 1] > 0 else { return rigorous }
        let current = svd.sigma.prefix(k).reduce(0.0) { $0 + Double($1) * Double($1) }
        let gained = max(current - previousSquares.prefix(k).reduce(0, +), 0)
        let gamma = (residualSpectralNorm / Double(svd.sigma[k - 1])) * (residualSpectralNorm / Double(svd.sigma[k - 1]))
        guard gamma < 0.5 else { return rigorous }
        let missing = gained * gamma / (1 - gamma)
        let error = truncationError(rank: k)
        return max(rigorous, max(error * error - missing, 0).squareRoot())
    }

    /// truncation error / estimated optimal error (≥ 1; 1 when both are zero).
    public func errorRatioEstimate(rank k: Int) -> Double {
        let error = truncationError(rank: k), lower = optimalErrorEstimate(rank: k)
        if error == 0 { return 1 }
        return lower > 0 ? error / lower : .infinity
    }

    private func tailSquared(from k: Int) -> Double {
        var sum = 0.0
        for value in svd.sigma.dropFirst(k) { sum += Double(value) * Double(value) }
        return sum
    }
}
