import CheckpointCore

/// How the error of a merged element is measured, by the output dtype.
///
/// Float types: in ulps of the output dtype at the element's operand scale (|W| + |s|·|B|·|A|), the
/// measure of the merge tests (issue 4): a correctly rounded result is within 0.5 ulp of the float64
/// value plus what the Float32 delta loses. f64 outputs are measured in f32 ulps, because the merge
/// forms ΔW in Float32. Limits: 1 ulp for 16- and 8-bit floats, 4 for f32 and f64.
///
/// ggml block types: against the requantized reference (the float64 row rounded to Float32 and
/// quantized by the same reference quantizer), in quantization steps of the block. A last-bit
/// difference of the Float32 input can move an element to the neighbouring level, never further, so
/// the limit is 1 step. The step is bounded by the block's largest |value| times the type's finest
/// grid fraction (`stepFraction`); that bound is the unit.
public enum MergeErrorMeasure: Sendable, Equatable {
    case ulp(mantissaBits: Int, minimumExponent: Int)
    case quantizationStep(fraction: Double, blockElements: Int)

    public init?(dtype: DType) {
        switch dtype {
        case .f32, .f64: self = .ulp(mantissaBits: 23, minimumExponent: -126)
        default:
            if let format = dtype.floatFormat, format.signed {
                self = .ulp(mantissaBits: format.mantissaBits, minimumExponent: 1 - format.bias)
            } else if let fraction = Self.stepFraction(dtype), let block = dtype.blockLayout {
                self = .quantizationStep(fraction: fraction, blockElements: block.elements)
            } else {
                return nil
            }
        }
    }

    public var unit: String {
        switch self {
        case .ulp: return "ulp"
        case .quantizationStep: return "step"
        }
    }

    /// The default limit for `dtype` (see the type's comment).
    public static func defaultLimit(_ dtype: DType) -> Double {
        switch dtype {
        case .f32, .f64: return 4
        default: return 1
        }
    }

    /// Largest step between neighbouring levels of a block, as a fraction of the block's largest
    /// |value|: symmetric types map it to the extreme level (Q8_0 ±127 → 1/127, Q4_0 −8 → 1/8,
    /// Q6_K −32 → 1/31 when it lands on +31), types with a minimum spread a range of at most twice
    /// it over 2^bits − 1 steps (Q4_1, Q4_K: 2/15), ternary types have one step of the scale, and
    /// MXFP4's widest gap is 2 of its 6 (4 → 6).
    static func stepFraction(_ dtype: DType) -> Double? {
        switch dtype {
        case .q8_0: return 1.0 / 127
        case .q4_0: return 1.0 / 8
        case .q5_0: return 1.0 / 16
        case .q4_1, .q4K: return 2.0 / 15
        case .q5_1, .q5K: return 2.0 / 31
        case .q6K: return 1.0 / 31
        case .tq1_0, .tq2_0: return 1
        case .mxfp4: return 1.0 / 3
        default: return nil
        }
    }

    /// The unit at an element for float types: the ulp of the output type at `scale`.
    func ulp(at scale: Double) -> Double {
        guard case let .ulp(mantissaBits, minimumExponent) = self else { return .nan }
        let exponent = scale > 0 && scale.isFinite ? max(Int(scale.exponent), minimumExponent) : minimumExponent
        return Double(sign: .plus, exponent: exponent - mantissaBits, significand: 1)
    }

    /// Errors of `merged` against `expected` in this measure's units, element by element. `scale` is the
    /// operand scale (float types); block types derive their unit from `expected` block by block.
    func errors(merged: [Double], expected: [Double], scale: [Double]) -> [Double] {
        var result = [Double](repeating: 0, count: merged.count)
        switch self {
        case .ulp:
            for j in merged.indices { result[j] = Self.difference(merged[j], expected[j]) / ulp(at: scale[j]) }
        case let .quantizationStep(fraction, blockElements):
            var start = 0
            while start < merged.count {
                let end = min(merged.count, start + blockElements)
                let largest = expected[start..<end].reduce(0) { max($0, abs($1)) }
                let step = largest * fraction
                for j in start..<end {
                    let difference = Self.difference(merged[j], expected[j])
                    result[j] = difference == 0 ? 0 : (step > 0 ? difference / step : .infinity)
                }
                start = end
            }
        }
        return result
    }

    /// |a − b|, zero for equal values (infinities included) and infinite when exactly one is NaN or
    /// they are different non-finite values.
    static func difference(_ a: Double, _ b: Double) -> Double {
        if a == b || (a.isNaN && b.isNaN) { return 0 }
        let difference = abs(a - b)
        return difference.isNaN ? .infinity : difference
    }
}
