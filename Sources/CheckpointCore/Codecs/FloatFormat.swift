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
        if isNaN(bits) {
            // Shift the payload into binary64's mantissa and keep it quiet.
            let payload = UInt64(mantissa) << UInt64(52 - mantissaBits)
            let nanBits = 0x7FF8_0000_0000_0000 | payload | (negative && specials == .ieee ? 1 << 63 : 0)
            return Double(bitPattern: nanBits)
        }
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

    /// `value` rounded to nearest, ties to even, with this format's overflow rule.
    public func encode(_ value: Double) -> UInt32 {
        let negative = value.sign == .minus
        if value.isNaN { return nanPattern(negative: negative, payloadOf: value) }
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

    private func nanPattern(negative: Bool, payloadOf value: Double) -> UInt32 {
        switch specials {
        case .ieee:
            let payload = UInt32(truncatingIfNeeded: (value.bitPattern & 0x000F_FFFF_FFFF_FFFF) >> UInt64(52 - mantissaBits))
            let quiet: UInt32 = 1 << UInt32(mantissaBits - 1)
            return (negative ? signMask : 0) | (UInt32(exponentMax) << UInt32(mantissaBits)) | quiet | payload
        case .extendedRange: return (negative ? signMask : 0) | magnitudeMask
        case .fnuz: return signMask
        case .scaleOnly: return magnitudeMask
        case .finite: return 0
        }
    }

    /// E8M0 holds powers of two only; round the exponent with ties to even in the mantissa sense.
    private func encodeScale(_ value: Double) -> UInt32 {
        guard value > 0, value.isFinite else { return magnitudeMask }
        let exponent = Int(value.exponent)
        let minExponent = -bias
        if exponent < minExponent { return 0 }
        let significand = value.significand  // in [1, 2)
        var biased = exponent + bias
        if significand > 1.5 || (significand == 1.5 && biased & 1 == 1) { biased += 1 }
        return biased >= exponentMax ? magnitudeMask : UInt32(biased)
    }
}
