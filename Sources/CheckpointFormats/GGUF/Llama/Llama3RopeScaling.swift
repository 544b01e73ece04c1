#if canImport(Glibc)
import Glibc
#endif

/// Llama 3.1's RoPE frequency scaling (`rope_scaling.rope_type = "llama3"`), which llama.cpp reads
/// from an extra tensor `rope_freqs.weight` (one factor per rotary frequency) that its converter
/// computes. The arithmetic follows convert_hf_to_gguf.py step by step in float32, as torch does it
/// there (frequencies and wavelengths are float32 tensors; the thresholds are compared in float32).
public struct Llama3RopeScaling: Sendable, Equatable {
    public var factor: Double
    public var low: Double
    public var high: Double
    public var originalContext: Double

    /// The `head_dim / 2` factors for a rotary dimension `dim` and base `theta`.
    public func factors(dim: Int, theta: Double) -> [Float] {
        let lowWavelength = Float(originalContext / low)
        let highWavelength = Float(originalContext / high)
        return stride(from: 0, to: dim, by: 2).map { index -> Float in
            let exponent = Float(index) / Float(dim)
            let frequency = 1 / powf(Float(theta), exponent)
            let wavelength = Float(2 * Double.pi) / frequency
            if wavelength < highWavelength { return 1 }
            if wavelength > lowWavelength { return Float(factor) }
            let smooth = (Float(originalContext) / wavelength - Float(low)) / (Float(high) - Float(low))
            return 1 / ((1 - smooth) / Float(factor) + smooth)
        }
    }
}
