import CheckpointLinalg

/// The truncated SVD of one dense ΔW for extraction: randomized when the wanted rank is small
/// against the matrix, checked a posteriori, and redone with a full SVD when the check fails.
public struct DeltaDecomposition {
    public enum Method: String, Sendable { case randomized, full }

    /// How the rank is chosen from the spectrum.
    public enum Choice: Sendable {
        case rank(Int)
        /// PEFT's rule on the exact total energy: smallest k with Σσ² ≥ E·‖ΔW‖²_F.
        case energy(Double)
        /// mergekit: σ > ε.
        case epsilon(Double)
    }

    public var svd: ThinSVD
    public var rank: Int
    public var method: Method
    /// ‖ΔW − B·A‖_F.
    public var error: Double
    public var norm: Double
    /// error / (a lower bound of the optimal rank-k error); 1 for a full SVD.
    public var errorRatioEstimate: Double
    /// Components the choice would have kept but whose σ is not above `floor`.
    public var droppedBelowFloor: Int

    /// `oversampling` nil: as many extra columns as the rank (at least 10), l = 2k, which captures
    /// the slowly decaying spectra of fine-tuning deltas well enough to pass the check at once.
    /// Components with σ ≤ `floor` (a noise floor) are never kept; the rank may then be 0.
    public init(_ delta: Matrix, choice: Choice, maxRank: Int, oversampling: Int? = nil, powerIterations: Int = 2, seed: UInt64 = 0, tolerance: Double,
                floor: Double = 0) throws {
        let length = min(delta.rows, delta.columns)
        let cap = max(min(maxRank, length), 1)
        let sketchRank: Int
        switch choice {
        case let .rank(k): sketchRank = min(k, cap)
        case .energy, .epsilon: sketchRank = cap
        }
        // A sketch that fails its bound is retried with twice the oversampling; one of half the
        // matrix or more costs as much as the full SVD, which is then run instead.
        var oversampling = max(oversampling ?? max(10, sketchRank), 1)
        while (sketchRank + oversampling) * 2 < length {
            let attempt = RandomizedSVD.Options(oversampling: oversampling, powerIterations: powerIterations, seed: seed)
            var sketch = try RandomizedSVD(delta, rank: sketchRank, options: attempt)
            let sigma = sketch.svd.sigma.map(Double.init)
            let chosen = Self.select(choice, sigma: sigma, total: sketch.frobeniusSquared, cap: cap)
            let k = min(chosen, sigma.filter { $0 > floor }.count)
            var ratio = sketch.errorRatioEstimate(rank: k)
            if ratio > tolerance {
                ratio = try Self.sharpen(&sketch, of: delta, rank: k, tolerance: tolerance)
            }
            if ratio <= tolerance {
                svd = sketch.svd.truncated(k)
                rank = k
                method = .randomized
                error = sketch.truncationError(rank: k)
                norm = sketch.frobeniusSquared.squareRoot()
                errorRatioEstimate = ratio
                droppedBelowFloor = chosen - k
                return
            }
            oversampling = 2 * (sketchRank + oversampling) - sketchRank
        }
        let full = try ThinSVD(delta)
        let sigma = full.sigma.map(Double.init)
        let total = sigma.reduce(0) { $0 + $1 * $1 }
        let chosen = Self.select(choice, sigma: sigma, total: total, cap: cap)
        let k = min(chosen, sigma.filter { $0 > floor }.count)
        svd = full.truncated(k)
        rank = k
        method = .full
        error = sigma.dropFirst(k).reduce(0) { $0 + $1 * $1 }.squareRoot()
        norm = total.squareRoot()
        errorRatioEstimate = 1
        droppedBelowFloor = chosen - k
    }

    /// Spends passes over ΔW on the check only when it fails, on what made it fail: ‖R‖_F bounds ‖R‖₂
    /// for free, but a residual with a flat (noise) spectrum needs the power-iteration estimate; the
    /// residual from norms is too coarse for a tail near Float32's resolution (its rounding allowance
    /// a visible part of the error bound), which forming the residual once resolves.
    static func sharpen(_ sketch: inout RandomizedSVD, of delta: Matrix, rank k: Int, tolerance: Double) throws -> Double {
        var unrounded = sketch
        unrounded.residualUncertainty = 0
        if unrounded.errorRatioEstimate(rank: k) > tolerance {
            try sketch.estimateResidualSpectralNorm(of: delta)
        }
        var ratio = sketch.errorRatioEstimate(rank: k)
        let bound = sketch.truncationErrorBound(rank: k)
        if ratio > tolerance, sketch.residualUncertainty > 1e-3 * bound * bound {
            try sketch.formResidual(of: delta)
            ratio = sketch.errorRatioEstimate(rank: k)
        }
        if ratio > tolerance, !sketch.spectralNormEstimated {
            try sketch.estimateResidualSpectralNorm(of: delta)
            ratio = sketch.errorRatioEstimate(rank: k)
        }
        return ratio
    }

    static func select(_ choice: Choice, sigma: [Double], total: Double, cap: Int) -> Int {
        switch choice {
        case let .rank(k): return max(min(k, cap, sigma.count), 1)
        case let .energy(fraction):
            var running = 0.0
            for (index, value) in sigma.enumerated() {
                running += value * value
                if running >= fraction * total { return min(index + 1, cap) }
            }
            return max(min(cap, sigma.count), 1)
        case let .epsilon(bound):
            return max(min(sigma.filter { $0 > bound }.count, cap), 1)
        }
    }
}
