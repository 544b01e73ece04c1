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
        let bits = nearest.bitPattern
        // Inexact and even: step one ulp towards the exact value (which makes the last bit odd). In
        // bit patterns a step away from zero is +1 for either sign.
        let inexact = Double(nearest) != value && nearest.isFinite
        guard inexact && bits & 1 == 0 else { return nearest }
        let awayFromZero = abs(value) > abs(Double(nearest))
        return Float(bitPattern: awayFromZero ? bits &+ 1 : bits &- 1)
    }

    /// Encodes `values` into `dtype` bytes at `destination` (little-endian, one rounding each).
    static func encode(_ values: UnsafeBufferPointer<Double>, as dtype: DType, into destination: UnsafeMutableRawBufferPointer, scratch: inout [Float]) throws {
        let count = values.count
        switch dtype {
        case .f64:
            guard let base = values.baseAddress else { return }
            destination.copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * 8))
        case .f32:
            guard let doubles = values.baseAddress else { return }
            for i in 0..<count { destination.storeBytes(of: Float(doubles[i]).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        default:
            if scratch.count < count { scratch = [Float](repeating: 0, count: count) }
            try scratch.withUnsafeMutableBufferPointer { buffer in
                guard let floats = buffer.baseAddress, let doubles = values.baseAddress else { return }
                for i in 0..<count { floats[i] = toOddFloat(doubles[i]) }
                try ElementConverter.convert(UnsafeRawBufferPointer(start: floats, count: count * 4), from: .f32, into: destination, to: dtype, count: count)
            }
        }
    }

    /// Decodes `count` elements of `dtype` into Doubles (exact for every float dtype). 16-bit floats go
    /// through the codecs' fast Float32 kernels (exact: every f16/bf16 value is a Float32).
    static func decode(_ source: UnsafeRawBufferPointer, as dtype: DType, count: Int, into values: UnsafeMutableBufferPointer<Double>) throws {
        guard dtype == .bf16 || dtype == .f16, count > 0, let target = values.baseAddress else {
            try ElementConverter.convert(source, from: dtype, into: UnsafeMutableRawBufferPointer(values), to: .f64, count: count)
            return
        }
        let floats = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { floats.deallocate() }
        try ElementConverter.convert(source, from: dtype, into: UnsafeMutableRawBufferPointer(floats), to: .f32, count: count)
        guard let base = floats.baseAddress else { return }
        for i in 0..<count { target[i] = Double(base[i]) }
    }
}
