import Dispatch

/// A randomized truncated SVD of a dense matrix (Halko, Martinsson & Tropp, 2011): a seeded Gaussian
/// start, power (subspace) iterations re-orthonormalised by QR, and the exact SVD of the thin sketch.
///
/// Passes over A are what cost, so the sketch ends on the row side: with Z an orthonormal basis of
/// range((AᵀA)^q·Ω), the approximation is A·Z·Zᵀ and its SVD comes from the SVD of the m×l product
/// Y = A·Z that the last iteration computes anyway. That is 2q + 1 passes (products with l columns)
/// for q power iterations, and no pass for the projection QᵀA.
///
/// The residual energy ‖A − A·Z·Zᵀ‖²_F = ‖A‖²_F − ‖Y‖²_F is taken from norms (‖A‖² accumulated in
/// Double), with an explicit bound of what Float32 rounding can do to that difference
/// (`residualUncertainty`); callers that need it sharper call `formResidual`, which subtracts the
/// approximation from A once. ‖R‖₂ is bounded by ‖R‖_F, or estimated by a short block power
/// iteration on the implicit residual (`estimateResidualSpectralNorm`) when that bound is too loose.
/// The optimal error is estimated a posteriori from how much the last power iteration still gained
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
    /// ‖A − Â‖²_F for the sketch Â = U·diag(σ̃)·Vᵀ (from norms, or exact after `formResidual`).
    public var residualFrobeniusSquared: Double
    /// How far Float32 rounding may have moved `residualFrobeniusSquared` and the sketch's tails
    /// (an absolute amount of squared Frobenius norm; see `roundingBound`).
    public var residualUncertainty: Double
    /// Whether the residual was formed (`formResidual`): then errors below √residualUncertainty are
    /// below what Float32 can resolve of A, and the check accepts them.
    public private(set) var residualFormed = false
    /// ‖A − Â‖₂: the block power iteration's estimate (from below) once `estimateResidualSpectralNorm`
    /// ran, else its upper bound ‖A − Â‖_F (with the rounding allowance), which is all the check needs
    /// when the residual is small against σ̃_k.
    public var residualSpectralNorm: Double {
        spectralEstimate ?? (residualFrobeniusSquared + residualUncertainty).squareRoot()
    }
    public var spectralNormEstimated: Bool { spectralEstimate != nil }
    private var spectralEstimate: Double?
    /// Z, the orthonormal row basis of the sketch (n×l), for the implicit residual.
    private var rowBasis: Matrix
    private var seed: UInt64
    /// σ² of the sketch one power iteration earlier (empty without power iterations).
    var previousSquares: [Double] = []

    /// Sketches `a` for `rank` components (l = min(rank + oversampling, m, n) columns).
    public init(_ a: Matrix, rank: Int, options: Options = Options()) throws(LinalgError) {
        // The passes run on PanelProduct's threads; the BLAS calls left are on l-column panels.
        self = try BLASThreads.single { () throws(LinalgError) in try Self(sketching: a, rank: rank, options: options) }
    }

    private init(sketching a: Matrix, rank: Int, options: Options) throws(LinalgError) {
        let m = a.rows, n = a.columns
        let l = min(max(rank, 1) + options.oversampling, m, n)
        var omega = Matrix(rows: n, columns: max(l, 0))
        frobeniusSquared = Self.startInParallel(a, omega: &omega, seed: options.seed)
        guard frobeniusSquared.isFinite else { throw .nonFinite(operation: "randomized SVD") }
        guard l > 0 else {
            svd = ThinSVD(u: Matrix(rows: m, columns: 0), sigma: [], vt: Matrix(rows: 0, columns: n))
            residualFrobeniusSquared = frobeniusSquared
            residualUncertainty = 0
            rowBasis = Matrix(rows: n, columns: 0)
            seed = options.seed
            return
        }
        var z = try TallQR.factor(omega).q
        var y = try PanelProduct.times(a, z)
        for iteration in 0..<options.powerIterations {
            let q = try TallQR.factor(y)
            if iteration == options.powerIterations - 1 {
                // σ(Y) = σ(R) of its QR: the previous sketch's spectrum at the cost of an l×l SVD.
                previousSquares = try SingularValues.double(rows: q.r.rows, columns: q.r.columns, rowMajor: q.r.elements.map(Double.init)).map { $0 * $0 }
            }
            z = try TallQR.factor(try PanelProduct.transposedTimes(a, q.q)).q
            y = try PanelProduct.times(a, z)
        }
        let core = try ThinSVD.ofTallPanel(y)  // Y = U·Σ·Wᵀ, so A·Z·Zᵀ = U·Σ·(Z·W)ᵀ
        var u = core.u
        var vt = try GEMM.product(core.vt, .none, z, .transposed)
        ThinSVD.normaliseSigns(u: &u, vt: &vt)
        svd = ThinSVD(u: u, sigma: core.sigma, vt: vt)
        let captured = y.squaredSum
        residualFrobeniusSquared = max(frobeniusSquared - captured, 0)
        // Z is orthonormal only to rounding: A·Z·Zᵀ differs from the projection by ‖ZᵀZ − I‖.
        let orthogonality = z.orthonormalityDefect
        let productError = Self.roundingBound(inner: n) * Double(l).squareRoot() * frobeniusSquared.squareRoot()
        // dsdot rounds each square to Float32 before adding in Double: ≤ u/2 relative on each norm.
        let normsError = Double(Float.ulpOfOne) / 2 * (frobeniusSquared + captured)
        residualUncertainty = (2 * frobeniusSquared.squareRoot() + productError) * productError + 4 * orthogonality * frobeniusSquared + normsError
        rowBasis = z
        seed = options.seed
    }

    /// ‖A‖²_F and the Gaussian start Ω (`SeededGaussian(seed:)`'s numbers, row by row) on two
    /// threads, each generating half of Ω and summing half of A: the one is arithmetic, the other a
    /// memory pass, and neither needs the other. ‖A‖² is the two halves' dsdot sums, added in order.
    static func startInParallel(_ a: Matrix, omega: inout Matrix, seed: UInt64) -> Double {
        let parts = a.elements.count + omega.elements.count >= 1 << 16 ? 2 : 1
        var halves = [Double](repeating: 0, count: parts)
        a.elements.withUnsafeBufferPointer { source in
            omega.elements.withUnsafeMutableBufferPointer { target in
                halves.withUnsafeMutableBufferPointer { sums in
                    // Each worker writes its own range of Ω and its own sum; the buffers outlive the call.
                    nonisolated(unsafe) let (source, target, sums) = (source, target, sums)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        let low = source.count * part / parts, high = source.count * (part + 1) / parts
                        sums[part] = Matrix.squaredSum(UnsafeBufferPointer(rebasing: source[low..<high]))
                        // Pieces of Ω start at whole Box–Muller pairs.
                        let pairs = (target.count + 1) / 2
                        let first = 2 * (pairs * part / parts), end = min(2 * (pairs * (part + 1) / parts), target.count)
                        var random = SeededGaussian(seed: seed, skippingPairs: first / 2)
                        random.fill(UnsafeMutableBufferPointer(rebasing: target[first..<end]))
                    }
                }
            }
        }
        return halves.reduce(0, +)
    }

    /// Replaces the Frobenius upper bound of ‖R‖₂ by a block power iteration on the implicit
    /// residual A·(I − Z·Zᵀ) (7 skinny passes over A), for residuals too large for that bound.
    public mutating func estimateResidualSpectralNorm(of a: Matrix) throws(LinalgError) {
        let (basis, start) = (rowBasis, seed &+ 1)
        spectralEstimate = try BLASThreads.single { () throws(LinalgError) in try SpectralNorm.residual(of: a, orthogonalTo: basis, seed: start) }
    }

    /// Relative error bound of a Float32 inner product of length `inner` (Higham & Mary's
    /// probabilistic bound λ·√n·u with λ = 10: it holds except with probability ~2n·e⁻⁵⁰ per product,
    /// whatever the blocking or FMA use of the BLAS).
    static func roundingBound(inner: Int) -> Double {
        10 * Double(max(inner, 1)).squareRoot() * Double(Float.ulpOfOne) / 2
    }

    /// Replaces the residual energy from norms by the energy of R = A − Â formed explicitly (one
    /// more pass and a copy of A), for sketches whose residual is too small for the difference of
    /// norms to resolve it.
    public mutating func formResidual(of a: Matrix) throws(LinalgError) {
        var scaled = svd.u
        let l = scaled.columns
        for row in 0..<scaled.rows {
            for j in 0..<l { scaled.elements[row * l + j] *= svd.sigma[j] }
        }
        var residual = a
        var failure: LinalgError?
        scaled.withView { uv in
            svd.vt.withView { vv in
                residual.withMutableView { rv in
                    do throws(LinalgError) { try GEMM.multiply(uv, .none, vv, .none, into: rv, alpha: -1, beta: 1) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        residualFrobeniusSquared = residual.squaredSum
        // Each element: one rounding of the subtraction (relative to R) and an l-term product, whose
        // |U·Σ|·|Vᵀ| is at most √l·‖A‖ in Frobenius norm; dsdot's Float32 squares add u/2 relative.
        let unit = Double(Float.ulpOfOne) / 2
        let elementError = unit * residualFrobeniusSquared.squareRoot() + Self.roundingBound(inner: l) * Double(l).squareRoot() * frobeniusSquared.squareRoot()
        residualUncertainty = (2 * residualFrobeniusSquared.squareRoot() + elementError) * elementError + unit * residualFrobeniusSquared
        residualFormed = true
    }

    /// ‖A − A_k‖_F for the rank-k truncation of the sketch: the sketch's tail plus the residual.
    public func truncationError(rank k: Int) -> Double {
        (tailSquared(from: k) + residualFrobeniusSquared).squareRoot()
    }

    /// An upper bound of `truncationError` allowing for rounding (`residualUncertainty`).
    public func truncationErrorBound(rank k: Int) -> Double {
        (tailSquared(from: k) + residualFrobeniusSquared + residualUncertainty).squareRoot()
    }

    /// A lower bound of the optimal rank-k error min ‖A − X‖_F over rank-k X. Since
    /// AAᵀ = ÂÂᵀ + RRᵀ (R's rows are orthogonal to the sketch's row space), Ky Fan's inequality bounds
    /// the top-k energy of A by the sketch's top-k energy plus min(‖R‖²_F, k·‖R‖²₂).
    public func optimalErrorLowerBound(rank k: Int) -> Double {
        let high = residualFrobeniusSquared + residualUncertainty
        let spill = min(high, Double(k) * residualSpectralNorm * residualSpectralNorm)
        return max(tailSquared(from: k) + residualFrobeniusSquared - residualUncertainty - spill, 0).squareRoot()
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
        let low = tailSquared(from: k) + residualFrobeniusSquared - residualUncertainty
        return max(rigorous, max(low - missing, 0).squareRoot())
    }

    /// The error bound over the estimated optimal error (≥ 1; 1 when both are zero). Once the
    /// residual is formed, an optimal error below Float32's resolution counts as that resolution:
    /// no check can tell errors apart below it.
    public func errorRatioEstimate(rank k: Int) -> Double {
        let error = truncationErrorBound(rank: k)
        let lower = max(optimalErrorEstimate(rank: k), residualFormed ? residualUncertainty.squareRoot() : 0)
        if error == 0 { return 1 }
        return lower > 0 ? max(error / lower, 1) : .infinity
    }

    private func tailSquared(from k: Int) -> Double {
        var sum = 0.0
        for value in svd.sigma.dropFirst(k) { sum += Double(value) * Double(value) }
        return sum
    }
}
