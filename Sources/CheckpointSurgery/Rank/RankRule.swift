/// How many singular components to keep, reproducing each tool's rule exactly (peers.md §4.7).
///
/// σ is the spectrum of the full ΔW: kohya and LyCORIS run a dense SVD, so their spectra have
/// L = min(out, in) values; from factors we have r of them and the rest are zero, which `select`
/// pads in (`fullLength`).
public enum RankRule: Sendable, Equatable {
    /// Keep exactly this many (kohya `--new_rank` without a dynamic method).
    case fixed(Int)
    /// kohya `sv_ratio t`: components with σ > σ₁ / t.
    case kohyaRatio(Double)
    /// kohya `sv_fro t`: Frobenius-norm fraction t, i.e. energy t².
    case kohyaFrobenius(Double)
    /// kohya `sv_cumulative t`: nuclear-norm fraction t.
    case kohyaCumulative(Double)
    /// PEFT `convert_to_lora(rank: float)`: exact minimum k with Σσ² ≥ t·Σσ².
    case peftEnergy(Double)
    /// mergekit `--sv-epsilon ε`: components with σ > ε.
    case epsilon(Double)

    /// kohya's MIN_SV: a spectrum whose σ₁ is at most this is a zero matrix, kept at rank 1.
    public static let kohyaMinimumSingularValue = 1e-6

    /// The rank this rule keeps, at most `maxRank` (kohya's `--new_rank` cap).
    public func select(sigma: [Double], fullLength: Int, maxRank: Int) -> Int {
        let length = max(fullLength, sigma.count)
        let first = sigma.first ?? 0
        switch self {
        case let .fixed(rank):
            return Self.kohyaFinish(first: first, rank: rank, maxRank: maxRank)
        case let .kohyaRatio(t):
            // kohya: index = #{σ > σ₁/t} − 1, clamped to [0, L − 1], then + 1.
            let floor = first / t
            let index = Self.clamp(sigma.filter { $0 > floor }.count - 1, length)
            return Self.kohyaFinish(first: first, rank: index + 1, maxRank: maxRank)
        case let .kohyaCumulative(t):
            let index = Self.clamp(Self.searchSorted(cumulative(sigma, power: 1, normalised: true), t, length: length), length)
            return Self.kohyaFinish(first: first, rank: index + 1, maxRank: maxRank)
        case let .kohyaFrobenius(t):
            let index = Self.clamp(Self.searchSorted(cumulative(sigma, power: 2, normalised: true), t * t, length: length), length)
            return Self.kohyaFinish(first: first, rank: index + 1, maxRank: maxRank)
        case let .peftEnergy(t):
            // PEFT: k = searchsorted(cumsum(σ²), t · Σσ²) + 1.
            let sums = cumulative(sigma, power: 2, normalised: false)
            let k = Self.searchSorted(sums, t * (sums.last ?? 0), length: length) + 1
            return min(k, length, maxRank)
        case let .epsilon(bound):
            return min(sigma.filter { $0 > bound }.count, maxRank)
        }
    }

    /// kohya's final step: a zero matrix keeps rank 1, otherwise the rank is capped at `new_rank`.
    private static func kohyaFinish(first: Double, rank: Int, maxRank: Int) -> Int {
        if first <= kohyaMinimumSingularValue { return 1 }
        return min(rank, maxRank)
    }

    private static func clamp(_ index: Int, _ length: Int) -> Int { max(0, min(index, length - 1)) }

    /// torch.searchsorted (side = left) over the sums padded to `length` with their last value:
    /// the first index whose value is ≥ target, or `length` if none is.
    private static func searchSorted(_ sums: [Double], _ target: Double, length: Int) -> Int {
        // Zero singular values past the stored rank repeat the last prefix sum, so a target the
        // stored sums do not reach is not reached by the padding either.
        sums.firstIndex { $0 >= target } ?? length
    }

    private func cumulative(_ sigma: [Double], power: Int, normalised: Bool) -> [Double] {
        var running = 0.0
        var sums: [Double] = []
        sums.reserveCapacity(sigma.count)
        for value in sigma {
            running += power == 2 ? value * value : abs(value)
            sums.append(running)
        }
        guard normalised, running > 0 else { return sums }
        return sums.map { $0 / running }
    }

    /// The name users type (`--sv-ratio 2` → "sv_ratio 2").
    public var description: String {
        switch self {
        case let .fixed(rank): return "rank \(rank)"
        case let .kohyaRatio(t): return "sv_ratio \(t)"
        case let .kohyaFrobenius(t): return "sv_fro \(t)"
        case let .kohyaCumulative(t): return "sv_cumulative \(t)"
        case let .peftEnergy(t): return "energy \(t) (PEFT rule)"
        case let .epsilon(e): return "sv_epsilon \(e)"
        }
    }
}
