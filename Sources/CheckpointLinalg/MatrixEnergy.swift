import CBLAS

extension Matrix {
    /// Σ x² accumulated in Double by `cblas_dsdot` (one vectorised pass, no Double copy). NaN and
    /// infinity propagate into the sum, so `isFinite` on the result is also a finiteness check of the
    /// matrix: squares of finite Float32 values cannot overflow a Double.
    public var squaredSum: Double {
        elements.withUnsafeBufferPointer { Self.squaredSum(UnsafeBufferPointer(rebasing: $0[...])) }
    }

    /// Σ x² of a buffer, as `squaredSum`.
    static func squaredSum(_ buffer: UnsafeBufferPointer<Float>) -> Double {
        guard var pointer = buffer.baseAddress else { return 0 }
        var left = buffer.count, sum = 0.0
        // dsdot counts in 32 bits; larger matrices go in slices.
        while left > 0 {
            let count = min(left, 1 << 30)
            sum += cblas_dsdot(Int32(count), pointer, 1, pointer, 1)
            pointer += count
            left -= count
        }
        return sum
    }
}
