/// Rank measures of one singular spectrum (σ decreasing, Double), as the `ckpt rank` report gives them.
public struct RankStatistics: Sendable, Equatable {
    /// The adapter's stored rank r (sum over MELoRA blocks).
    public var storedRank: Int
    /// #{σ > σ₁ · max(m, n) · ε_f32}: numpy's `matrix_rank` tolerance at Float32 precision, the
    /// precision the factors are multiplied in.
    public var numericalRank: Int
    /// ‖ΔW‖²_F / ‖ΔW‖²₂.
    public var stableRank: Double
    /// exp(−Σ pᵢ ln pᵢ) with pᵢ = σᵢ / Σσ (Roy & Vetterli's effective rank).
    public var entropyRank: Double
    /// (Σσ²)² / Σσ⁴.
    public var participationRatio: Double
    /// Smallest k keeping 90 / 95 / 99 % of Σσ².
    public var energyRank90: Int
    public var energyRank95: Int
    public var energyRank99: Int
    /// r − numerical rank: components the adapter stores but does not use.
    public var unusedRank: Int { storedRank - numericalRank }
    public var frobeniusNorm: Double
    public var spectralNorm: Double

    public init(sigma: [Double], storedRank: Int, rows: Int, columns: Int) {
        self.storedRank = storedRank
        let first = sigma.first ?? 0
        let tolerance = first * Double(max(rows, columns)) * Double(Float.ulpOfOne)
        numericalRank = first > 0 ? sigma.filter { $0 > tolerance }.count : 0
        let sum = sigma.reduce(0, +)
        let squares = sigma.reduce(0) { $0 + $1 * $1 }
        let fourth = sigma.reduce(0) { $0 + $1 * $1 * $1 * $1 }
        frobeniusNorm = squares.squareRoot()
        spectralNorm = first
        stableRank = first > 0 ? squares / (first * first) : 0
        participationRatio = fourth > 0 ? squares * squares / fourth : 0
        var entropy = 0.0
        if sum > 0 {
            for value in sigma where value > 0 {
                let p = value / sum
                entropy -= p * Self.naturalLog(p)
            }
        }
        entropyRank = sum > 0 ? Self.exponential(entropy) : 0
        energyRank90 = Self.energyRank(sigma, fraction: 0.90)
        energyRank95 = Self.energyRank(sigma, fraction: 0.95)
        energyRank99 = Self.energyRank(sigma, fraction: 0.99)
    }

    /// Smallest k with Σ_{i≤k} σᵢ² ≥ fraction · Σσ² (0 for a zero spectrum).
    public static func energyRank(_ sigma: [Double], fraction: Double) -> Int {
        let total = sigma.reduce(0) { $0 + $1 * $1 }
        guard total > 0 else { return 0 }
        var running = 0.0
        for (index, value) in sigma.enumerated() {
            running += value * value
            if running >= fraction * total { return index + 1 }
        }
        return sigma.count
    }

    static func naturalLog(_ x: Double) -> Double { log(x) }
    static func exponential(_ x: Double) -> Double { exp(x) }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
