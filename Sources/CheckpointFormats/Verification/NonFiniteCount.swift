import CheckpointCore

/// Counts of NaN and infinite elements in a tensor's values (ggml blocks are dequantized first).
public struct NonFiniteCount: Sendable, Equatable {
    public var nan = 0
    public var infinite = 0

    public init(nan: Int = 0, infinite: Int = 0) {
        self.nan = nan
        self.infinite = infinite
    }

    public var total: Int { nan + infinite }

    /// Whether `dtype`'s values can be scanned: real and complex floats of whole bytes and the ggml
    /// block types the codecs dequantize. Integers cannot hold NaN; packed 4/6-bit floats have no
    /// NaN or infinity encodings.
    public static func canScan(_ dtype: DType) -> Bool {
        if dtype.isBlockQuantized { return GGMLCodec.canDequantize(dtype) }
        return dtype == .c64 || (dtype.isFloatingPoint && !dtype.isPacked)
    }

    /// Adds the non-finite values among `count` elements of `dtype` in `bytes`; `scratch` holds at
    /// least `count` floats (two per element for c64) for the types that are widened first.
    mutating func add(_ bytes: UnsafeRawBufferPointer, dtype: DType, count: Int, scratch: UnsafeMutableBufferPointer<Float>) throws {
        switch dtype {
        case .f64:
            for index in 0..<count { tally(bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self), exponent: 0x7FF0_0000_0000_0000) }
        case .f32:
            for index in 0..<count { tally(UInt64(bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)), exponent: 0x7F80_0000) }
        case .c64:
            for index in 0..<(2 * count) { tally(UInt64(bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)), exponent: 0x7F80_0000) }
        default:
            let widened = UnsafeMutableBufferPointer(rebasing: scratch[0..<count])
            if dtype.isBlockQuantized {
                try GGMLCodec.dequantize(dtype, from: bytes, into: widened)
            } else {
                try ElementConverter.convert(bytes, from: dtype, into: UnsafeMutableRawBufferPointer(widened), to: .f32, count: count)
            }
            for value in widened where !value.isFinite {
                if value.isNaN { nan += 1 } else { infinite += 1 }
            }
        }
    }

    /// An IEEE value is non-finite when its exponent bits are all ones; a zero mantissa is infinity.
    @inline(__always) private mutating func tally(_ bits: UInt64, exponent: UInt64) {
        guard bits & exponent == exponent else { return }
        let mantissa = (exponent & (~exponent &+ 1)) &- 1
        if bits & mantissa == 0 { infinite += 1 } else { nan += 1 }
    }
}
