import Testing
@testable import CheckpointCore

/// The branch-free kernels must agree bit for bit with the generic, exact `FloatFormat` path
/// (which the reference tables pin separately in ReferenceTableTests).
@Suite struct HalfPrecisionTests {
    @Test func f16DecodeKernelMatchesGenericForAllPatterns() {
        for pattern in 0...0xFFFF {
            let bits = UInt16(pattern)
            let kernel = Float(bitPattern: HalfPrecision.f16ToF32Bits(bits))
            let generic = Float(FloatFormat.f16.decode(UInt32(bits)))
            if generic.isNaN {
                #expect(kernel.isNaN && kernel.sign == generic.sign, "pattern \(pattern)")
            } else {
                #expect(kernel.bitPattern == generic.bitPattern, "pattern \(pattern)")
            }
        }
    }

    @Test func encodeKernelsMatchGenericOnEdgesAndSamples() {
        var inputs: [UInt32] = []
        // Every f16 tie region: values around each half-way point between adjacent halves.
        for pattern in 0..<0x7C00 {
            let low = FloatFormat.f16.decode(UInt32(pattern))
            let high = FloatFormat.f16.decode(UInt32(pattern + 1))
            let mid = Float((low + high) / 2)
            inputs += [mid.bitPattern, mid.nextUp.bitPattern, mid.nextDown.bitPattern, Float(low).bitPattern]
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            inputs.append(UInt32(truncatingIfNeeded: state >> 32))
        }
        inputs += [0, 0x8000_0000, 0x7F80_0000, 0xFF80_0000, 0x7F7F_FFFF, 0x477F_E000, 0x477F_F000, 0x477F_EFFF, 0x3300_0000, 0x3300_0001, 0x32FF_FFFF]
        for sign: UInt32 in [0, 0x8000_0000] {
            for input in inputs {
                let bits = input ^ sign
                let value = Double(Float(bitPattern: bits))
                let f16 = HalfPrecision.f32BitsToF16(bits)
                let bf16 = HalfPrecision.f32BitsToBF16(bits)
                if value.isNaN {
                    #expect(FloatFormat.f16.isNaN(UInt32(f16)) && FloatFormat.bf16.isNaN(UInt32(bf16)))
                    continue
                }
                #expect(UInt32(f16) == FloatFormat.f16.encode(value), "f16 of \(bits)")
                #expect(UInt32(bf16) == FloatFormat.bf16.encode(value), "bf16 of \(bits)")
            }
        }
    }

    @Test func knownValues() {
        #expect(HalfPrecision.f32BitsToF16(Float(1).bitPattern) == 0x3C00)
        #expect(HalfPrecision.f32BitsToF16(Float(65504).bitPattern) == 0x7BFF)
        #expect(HalfPrecision.f32BitsToF16(Float(65520).bitPattern) == 0x7C00)  // tie above max → inf
        #expect(HalfPrecision.f32BitsToF16(Float(5.960464477539063e-08).bitPattern) == 0x0001)
        #expect(HalfPrecision.f32BitsToF16(Float(2.9802322387695312e-08).bitPattern) == 0x0000)  // tie → even (0)
        #expect(HalfPrecision.f32BitsToBF16(Float(1).bitPattern) == 0x3F80)
        #expect(HalfPrecision.f32BitsToBF16(0x3F80_8000) == 0x3F80)  // tie → even
        #expect(HalfPrecision.f32BitsToBF16(0x3F81_8000) == 0x3F82)
        #expect(HalfPrecision.f32BitsToBF16(0x7F7F_FFFF) == 0x7F80)  // rounds up to inf
        #expect(FloatFormat.f8E4M3.encode(448) == 0x7E)
        #expect(FloatFormat.f8E5M2.encode(57344) == 0x7B)
        #expect(FloatFormat.f8E4M3FNUZ.encode(240) == 0x7F)
        #expect(FloatFormat.f8E4M3FNUZ.encode(-0.0) == 0x00)
        #expect(FloatFormat.f8E8M0.decode(127) == 1)
        #expect(FloatFormat.f4E2M1.decode(0x7) == 6)
        #expect(FloatFormat.f6E3M2.decode(0x1F) == 28)
        #expect(FloatFormat.f6E2M3.decode(0x1F) == 7.5)
    }
}
