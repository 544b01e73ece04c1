/// Reproducible standard-normal numbers: SplitMix64 for the bits, Box–Muller for the shape. The same
/// seed gives the same sequence on every machine, which keeps randomized outputs byte-identical.
public struct SeededGaussian: Sendable {
    private var bits: SplitMix64
    private var spare: Float?

    public init(seed: UInt64) { bits = SplitMix64(seed: seed) }

    private mutating func nextBits() -> UInt64 { bits.next() }

    /// A uniform number in (0, 1].
    private mutating func uniform() -> Double { (Double(nextBits() >> 11) + 1) / 9_007_199_254_740_992 }

    public mutating func next() -> Float {
        if let spare {
            self.spare = nil
            return spare
        }
        let radius = (-2 * _log(uniform())).squareRoot()
        let angle = 2 * Double.pi * uniform()
        spare = Float(radius * _sin(angle))
        return Float(radius * _cos(angle))
    }

    /// The generator `SeededGaussian(seed: seed)` becomes after `pairs` pairs of numbers: SplitMix64
    /// is a counter, so a worker can start in the middle of the sequence.
    init(seed: UInt64, skippingPairs pairs: Int) {
        bits = SplitMix64(seed: seed &+ UInt64(2 * pairs) &* SplitMix64.increment)
    }

    /// Fills `buffer` with the sequence's next numbers (as `next()` would give them).
    mutating func fill(_ buffer: UnsafeMutableBufferPointer<Float>) {
        for i in buffer.indices { buffer[i] = next() }
    }

    /// A rows × columns matrix of independent standard-normal entries.
    public mutating func matrix(rows: Int, columns: Int) -> Matrix {
        var result = Matrix(rows: rows, columns: columns)
        for i in result.elements.indices { result.elements[i] = next() }
        return result
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Foundation.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif

/// SplitMix64: 64 random bits per step, the same sequence for a seed on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    static let increment: UInt64 = 0x9E37_79B9_7F4A_7C15

    public mutating func next() -> UInt64 {
        state &+= Self.increment
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
