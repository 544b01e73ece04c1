/// The bit layout of a narrow floating-point type and its exact, scalar conversions to and from `Double`.
///
/// One description serves every small float: IEEE half and bfloat16, the OCP/NVIDIA float8 variants,
/// the MX scale type E8M0 and the float4/float6 element types. Conversions from `Double` round once,
/// to nearest with ties to even, so a `Float` or a `Double` source gives the reference result without
/// double rounding. Overflow and NaN rules follow ml_dtypes (the reference tables in
/// `fixtures/codecs` pin every case).
public struct FloatFormat: Sendable, Hashable {
    /// How the format spends its special encodings.
    public enum Specials: Sendable, Hashable {
        /// All-ones exponent is ±infinity (mantissa 0) or NaN (f16, bf16, f8 E5M2).
        case ieee
        /// No infinities; only S.1111.111 is NaN (f8 E4M3FN). Overflow gives NaN.
        case extendedRange
        /// No infinities, no negative zero; the pattern of -0 (0x80) is the single NaN. Overflow gives NaN.
        case fnuz
        /// Unsigned exponent-only scale (E8M0): 2^(e-127), 0xFF is NaN, there is no zero.
        case scaleOnly
        /// No infinities and no NaN (float4/float6): overflow saturates to the largest finite value.
        case finite
    }

    public let exponentBits: Int
    public let mantissaBits: Int
    public let bias: Int
    public let specials: Specials

    public var signed: Bool { specials != .scaleOnly }
    public var totalBits: Int { exponentBits + mantissaBits + (signed ? 1 : 0) }
    var signMask: UInt32 { signed ? 1 << UInt32(exponentBits + mantissaBits) : 0 }
    var magnitudeMask: UInt32 { (1 << UInt32(exponentBits + mantissaBits)) - 1 }
    var exponentMax: Int { (1 << exponentBits) - 1 }

    public static let f16 = FloatFormat(exponentBits: 5, mantissaBits: 10, bias: 15, specials: .ieee)
    public static let bf16 = FloatFormat(exponentBits: 8, mantissaBits: 7, bias: 127, specials: .ieee)
    public static let f8E4M3 = FloatFormat(exponentBits: 4, mantissaBits: 3, bias: 7, specials: .extendedRange)
    public static let f8E5M2 = FloatFormat(exponentBits: 5, mantissaBits: 2, bias: 15, specials: .ieee)
    public static let f8E4M3FNUZ = FloatFormat(exponentBits: 4, mantissaBits: 3, bias: 8, specials: .fnuz)
    public static let f8E5M2FNUZ = FloatFormat(exponentBits: 5, mantissaBits: 2, bias: 16, specials: .fnuz)
    public static let f8E8M0 = FloatFormat(exponentBits: 8, mantissaBits: 0, bias: 127, specials: .scaleOnly)
    public static let f4E2M1 = FloatFormat(exponentBits: 2, mantissaBits: 1, bias: 1, specials: .finite)
    public static let f6E2M3 = FloatFormat(exponentBits: 2, mantissaBits: 3, bias: 1, specials: .finite)
    public static let f6E3M2 = FloatFormat(exponentBits: 3, mantissaBits: 2, bias: 3, specials: .finite)

    /// The magnitude bits of the largest finite value.
    public var maxFiniteMagnitude: UInt32 {
        switch specials {
        case .ieee: return (UInt32(exponentMax) << UInt32(mantissaBits)) - 1
        case .extendedRange: return magnitudeMask - 1
        case .fnuz, .finite: return magnitudeMask
        case .scaleOnly: return magnitudeMask - 1
        }
    }

    /// The canonical NaN pattern (quiet, positive), or nil for formats without NaN.
    public var canonicalNaN: UInt32? {
        switch specials {
        case .ieee: return (UInt32(exponentMax) << UInt32(mantissaBits)) | (1 << UInt32(mantissaBits - 1))
        case .extendedRange: return magnitudeMask
        case .fnuz: return 1 << UInt32(exponentBits + mantissaBits)
        case .scaleOnly: return magnitudeMask
        case .finite: return nil
        }
    }

    /// Whether `bits` encodes a NaN.
    public func isNaN(_ bits: UInt32) -> Bool {
        let magnitude = bits & magnitudeMask
        switch specials {
        case .ieee:
            return magnitude >> UInt32(mantissaBits) == UInt32(exponentMax)
                && magnitude & ((1 << UInt32(mantissaBits)) - 1) != 0
        case .extendedRange: return magnitude == magnitudeMask
        case .fnuz: return bits == signMask
        case .scaleOnly: return bits == magnitudeMask
        case .finite: return false
        }
    }

    /// The exact value of `bits` (NaNs keep their sign and the top of their payload, as numpy does).
    public func decode(_ bits: UInt32) -> Double {
        let negative = bits & signMask != 0
        let magnitude = bits & magnitudeMask
        let exponentField = Int(magnitude >> UInt32(mantissaBits))
        let mantissa = Int(magnitude & ((1 << UInt32(mantissaBits)) - 1))
        if isNaN(bits) { return Double(bitPattern: nanAsFloat64Bits(bits)) }
        let value: Double
        switch specials {
        case .scaleOnly:
            value = Double(sign: .plus, exponent: exponentField - bias, significand: 1)
        case .ieee where exponentField == exponentMax:
            value = .infinity
        default:
            if exponentField == 0 {
                value = Double(mantissa) * Double(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
            } else {
                let significand = Double((1 << mantissaBits) + mantissa)
                value = significand * Double(sign: .plus, exponent: exponentField - bias - mantissaBits, significand: 1)
            }
        }
        return negative ? -value : value
    }

    /// The exact Float32 bit pattern of `bits`. NaNs follow the references: IEEE halves keep sign and
    /// payload without being quieted (numpy, ml_dtypes); the float8 NaNs become a quiet NaN with their
    /// sign (fnuz's single NaN is negative); E8M0's NaN is the positive quiet NaN.
    public func decodeToFloat32Bits(_ bits: UInt32) -> UInt32 {
        guard isNaN(bits) else { return Float(decode(bits)).bitPattern }
        let wide = nanAsFloat64Bits(bits)
        return UInt32(truncatingIfNeeded: (wide >> 32) & 0x8000_0000) | 0x7F80_0000
            | UInt32(truncatingIfNeeded: (wide & 0x000F_FFFF_FFFF_FFFF) >> 29)
    }

    private func nanAsFloat64Bits(_ bits: UInt32) -> UInt64 {
        let negative = bits & signMask != 0
        switch specials {
        case .ieee where mantissaBits >= 7:
            let payload = UInt64(bits & ((1 << UInt32(mantissaBits)) - 1)) << UInt64(52 - mantissaBits)
            return (negative ? 1 << 63 : 0) | 0x7FF0_0000_0000_0000 | payload
        case .fnuz: return 0xFFF8_0000_0000_0000
        default: return (negative ? 1 << 63 : 0) | 0x7FF8_0000_0000_0000
        }
    }

    /// Float32 input (given as bits, so that signalling NaN payloads survive) rounded into this format.
    public func encode(float32Bits bits: UInt32) -> UInt32 {
        let value = Float(bitPattern: bits)
        guard value.isNaN else { return encode(Double(value)) }
        let payload = UInt64(bits & 0x007F_FFFF) << 29
        return nanPattern(negative: bits & 0x8000_0000 != 0, payload: payload)
    }

    /// Float64 input rounded as the reference libraries do: IEEE half directly from binary64 (numpy),
    /// every other format through Float32 first (ml_dtypes and torch convert doubles to float before
    /// narrowing, so their results include that first rounding).
    public func encode(float64 value: Double) -> UInt32 {
        if self == .f16 || value.isNaN { return encode(value) }
        return encode(float32Bits: Float(value).bitPattern)
    }

    /// `value` rounded to nearest, ties to even, in a single step, with this format's overflow rule.
    public func encode(_ value: Double) -> UInt32 {
        let negative = value.sign == .minus
        if value.isNaN { return nanPattern(negative: negative, payload: value.bitPattern & 0x000F_FFFF_FFFF_FFFF) }
        if specials == .scaleOnly { return encodeScale(value) }
        let sign: UInt32 = negative ? signMask : 0
        let magnitude = value.magnitude
        if magnitude.isInfinite { return overflowPattern(sign: sign) }
        if magnitude == 0 { return specials == .fnuz ? 0 : sign }
        let minNormalExponent = 1 - bias
        let exponent = max(Int(magnitude.exponent), minNormalExponent)
        let quantumExponent = exponent - mantissaBits
        // Scaling by a power of two is exact; the single rounding happens here.
        let scaled = (magnitude * Double(sign: .plus, exponent: -quantumExponent, significand: 1))
            .rounded(.toNearestOrEven)
        guard scaled < Double(1 << (mantissaBits + 2)) else { return overflowPattern(sign: sign) }
        let units = UInt32(scaled)
        var bits: UInt32
        if Int(magnitude.exponent) < minNormalExponent {
            bits = units  // subnormal; rounding up to 2^M lands on the smallest normal by itself
        } else {
            bits = (UInt32(exponent + bias) << UInt32(mantissaBits)) &+ (units &- (1 << UInt32(mantissaBits)))
        }
        if bits > maxFiniteMagnitude { return overflowPattern(sign: sign) }
        if bits == 0 && specials == .fnuz { return 0 }
        return sign | bits
    }

    private func overflowPattern(sign: UInt32) -> UInt32 {
        switch specials {
        case .ieee: return sign | (UInt32(exponentMax) << UInt32(mantissaBits))
        case .extendedRange: return sign | magnitudeMask
        case .fnuz: return signMask
        case .finite: return sign | maxFiniteMagnitude
        case .scaleOnly: return magnitudeMask
        }
    }

    /// NaN rules of the references: numpy's half keeps the top of the payload (never zero, so it
    /// stays a NaN) without quieting it; ml_dtypes gives bfloat16 and E5M2 a quiet NaN with the input's
    /// sign; float4/float6 have no NaN and ml_dtypes writes the zero of the opposite sign.
    private func nanPattern(negative: Bool, payload: UInt64) -> UInt32 {
        let sign = negative ? signMask : 0
        switch specials {
        case .ieee where self == .f16:
            let top = UInt32(truncatingIfNeeded: payload >> UInt64(52 - mantissaBits))
            return sign | (UInt32(exponentMax) << UInt32(mantissaBits)) | (top == 0 ? 1 : top)
        case .ieee:
            return sign | (UInt32(exponentMax) << UInt32(mantissaBits)) | (1 << UInt32(mantissaBits - 1))
        case .extendedRange: return sign | magnitudeMask
        case .fnuz: return signMask
        case .scaleOnly: return magnitudeMask
        case .finite: return negative ? 0 : signMask
        }
    }

    /// E8M0 holds powers of two only. ml_dtypes works on the Float32 bits: the result is the float's
    /// exponent field, plus one when the top mantissa bit is set (a significand of 1.5 or more rounds
    /// up); a subnormal float above 2^-127 gives 2^-126, one at or below it 2^-127; zero, negatives,
    /// infinities and NaN map to its NaN. (Inferred from, and pinned by, the reference tables.)
    private func encodeScale(_ value: Double) -> UInt32 {
        guard value > 0, value.isFinite else { return magnitudeMask }
        let bits = Float(value).bitPattern
        guard bits != 0 else { return magnitudeMask }
        let exponentField = (bits >> 23) & 0xFF
        if exponentField == 0 { return bits > 0x40_0000 ? 1 : 0 }
        let biased = exponentField + ((bits >> 22) & 1)
        return min(biased, magnitudeMask)
    }
}
