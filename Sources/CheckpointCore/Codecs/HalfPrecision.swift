/// Bit-level conversions between Float32 and the two 16-bit float types, written without branches so
/// that the compiler vectorizes the bulk loops in `ElementConverter`.
///
/// Rounding is to nearest, ties to even; overflow gives infinity. NaNs as the references do: numpy's
/// half keeps sign and payload top bits without quieting; ml_dtypes' bfloat16 writes a quiet NaN with
/// the sign. `fixtures/codecs` holds the reference tables the tests compare against bit for bit.
public enum HalfPrecision {
    /// bfloat16 → Float32 bits: bfloat16 is the top half of a Float32.
    @inlinable @inline(__always)
    public static func bf16ToF32Bits(_ h: UInt16) -> UInt32 { UInt32(h) << 16 }

    /// Float32 bits → bfloat16, round to nearest even.
    @inlinable @inline(__always)
    public static func f32BitsToBF16(_ f: UInt32) -> UInt16 {
        let rounded = (f &+ 0x7FFF &+ ((f >> 16) & 1)) >> 16
        let quietNaN = ((f >> 16) & 0x8000) | 0x7FC0
        let isNaN = (f & 0x7FFF_FFFF) > 0x7F80_0000
        return UInt16(truncatingIfNeeded: isNaN ? quietNaN : rounded)
    }

    /// IEEE half → Float32 bits (exact; subnormals normalised, NaN sign and payload kept as they are).
    @inlinable @inline(__always)
    public static func f16ToF32Bits(_ h: UInt16) -> UInt32 {
        let sign = UInt32(h & 0x8000) << 16
        let shifted = UInt32(h & 0x7FFF) << 13
        let exponent = shifted & 0x0F80_0000
        let normal = shifted &+ 0x3800_0000  // rebias: (127 - 15) << 23
        let special = normal &+ 0x3800_0000  // infinity, or NaN with its payload
        // A subnormal half is m·2^-24: add the implicit bit, then subtract it as a float (exact).
        let subnormal = (Float(bitPattern: normal &+ 0x0080_0000) - Float(bitPattern: 0x3880_0000)).bitPattern
        let magnitude = exponent == 0x0F80_0000 ? special : (exponent == 0 ? subnormal : normal)
        return sign | magnitude
    }

    /// Float32 bits → IEEE half, round to nearest even.
    @inlinable @inline(__always)
    public static func f32BitsToF16(_ f: UInt32) -> UInt16 {
        let sign = (f >> 16) & 0x8000
        let a = f & 0x7FFF_FFFF
        // Normal range: rebias the exponent and round on bit 13 (ties to even through `odd`).
        let odd = (a >> 13) & 1
        let normal = (a &+ 0xC800_0FFF &+ odd) >> 13
        // Below 2^-14: let the FPU round by adding 0.5, whose ulp is exactly the half's smallest step.
        let subnormal = (Float(bitPattern: a) + 0.5).bitPattern &- 0x3F00_0000
        let payload = (a >> 13) & 0x03FF
        let special: UInt32 = a > 0x7F80_0000 ? (0x7C00 | payload | (payload == 0 ? 1 : 0)) : 0x7C00
        let magnitude = a >= 0x4780_0000 ? special : (a < 0x3880_0000 ? subnormal : normal)
        return UInt16(truncatingIfNeeded: sign | magnitude)
    }
}
