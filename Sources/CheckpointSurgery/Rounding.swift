import CheckpointCore

/// One correctly rounded (nearest-even) conversion from Double into any float dtype.
///
/// The codecs convert from Float32 quickly; going Double → Float32 → bf16 would round twice. Rounding
/// to Float32 *to odd* first (a sticky last bit when inexact) and then to nearest-even gives the
/// single correct rounding whenever the target has at least two fewer significand bits than Float32,
/// which holds for f16, bf16 and every f8. Float32 and Float64 targets round directly.
enum Rounding {
    @inline(__always)
    static func toOddFloat(_ value: Double) -> Float {
        let nearest = Float(value)
        guard nearest.isFinite, Double(nearest) != value else { return nearest }
        let bits = nearest.bitPattern
        if bits & 1 == 1 { return nearest }
        // Even and inexact: step one ulp towards the exact value, which makes the last bit odd.
        return Double(nearest) < value ? nearest.nextUp : nearest.nextDown
    }

    /// Encodes `values` into `dtype` bytes at `destination` (little-endian, one rounding each).
    static func encode(_ values: UnsafeBufferPointer<Double>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer, scratch: inout [Float]) throws {
        let count = values.count
        switch dtype {
        case .f64:
            guard let base = values.baseAddress else { return }
            destination.copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * 8))
        case .f32:
            for i in 0..<count { destination.storeBytes(of: Float(values[i]).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        default:
            if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
            for i in 0..<count { scratch[i] = toOddFloat(values[i]) }
            try scratch.withUnsafeBytes { raw in
                try ElementConverter.convert(UnsafeRawBufferPointer(rebasing: raw[0..<(count * 4)]), from: .f32, into: destination, to: dtype, count: count)
            }
        }
    }

    /// Decodes `count` elements of `dtype` into Doubles (exact for every float dtype).
    static func decode(_ source: UnsafeRawBufferPointer, as dtype: DType, count: Int, into values: UnsafeMutableBufferPointer<Double>) throws {
        try ElementConverter.convert(source, from: dtype, into: UnsafeMutableRawBufferPointer(values), to: .f64, count: count)
    }
}
