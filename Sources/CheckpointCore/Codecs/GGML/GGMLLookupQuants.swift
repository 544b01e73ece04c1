#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Block types whose codes index a fixed value table or a ternary alphabet: IQ4_NL, IQ4_XS (non-linear
/// 4-bit), TQ1_0, TQ2_0 (ternary −1/0/1) and MXFP4 (e2m1 values with a power-of-two scale).
enum GGMLLookupQuants {
    /// IQ4_NL / IQ4_XS code values (ggml's `kvalues_iq4nl`).
    static let iq4Values: [Float] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
    /// MXFP4 code values: e2m1 numbers doubled (ggml's `kvalues_mxfp4`); the scale is halved to match.
    static let mxfp4Values: [Float] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    // MARK: dequantization

    static func dequantizeIQ4_NL(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        dequantizeTable4(source, destination, blocks, table: iq4Values, bytes: 18, quantsAt: 2) { GGMLField.half($0, 0) }
    }

    /// MXFP4: one e8m0 exponent byte, then 16 bytes of two e2m1 codes.
    static func dequantizeMXFP4(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        dequantizeTable4(source, destination, blocks, table: mxfp4Values, bytes: 17, quantsAt: 1) {
            e8m0Half(GGMLField.byte($0, 0))
        }
    }

    /// 32-element blocks of 4-bit indices into `table`, times the block's scale.
    @inline(__always)
    private static func dequantizeTable4(
        _ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int, table: [Float],
        bytes: Int, quantsAt: Int, scale: (UnsafeRawPointer) -> Float
    ) {
        table.withUnsafeBufferPointer { values in
            GGMLBlocks.decode(source, destination, blocks, bytes: bytes, elements: 32) { block, output in
                let d = scale(block)
                GGMLBlocks.nibbles(block, at: quantsAt) { j, low, high in
                    output[j] = d * values[Int(low)]
                    output[j + 16] = d * values[Int(high)]
                }
            }
        }
    }

    static func dequantizeIQ4_XS(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        iq4Values.withUnsafeBufferPointer { values in
            GGMLBlocks.decode(source, destination, blocks, bytes: 136, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                let scalesHigh = GGMLField.u16(block, 2)
                for sub in 0..<8 {
                    let low = (GGMLField.byte(block, 4 + sub / 2) >> UInt8(4 * (sub % 2))) & 0xF
                    let high = UInt8(truncatingIfNeeded: scalesHigh >> UInt16(2 * sub)) & 3
                    let dl = d * Float(Int32(low | high << 4) - 32)
                    let out = output + 32 * sub
                    GGMLBlocks.nibbles(block, at: 8 + 16 * sub) { j, low, high in
                        out[j] = dl * values[Int(low)]
                        out[j + 16] = dl * values[Int(high)]
                    }
                }
            }
        }
    }

    /// TQ1_0: 48 bytes holding 5 trits each and 4 bytes holding 4 trits each, stored as fixed-point
    /// fractions of 3^5 (so trit k is `((byte·3^k mod 256)·3) >> 8`), then f16 d at 52.
    static func dequantizeTQ1_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 54, elements: 256) { block, output in
            let bytes = block.assumingMemoryBound(to: UInt8.self)
            let d = GGMLField.half(block, 52)
            // Elements 0..<160: trit p of byte l (0..<32) → 32p + l; 160..<240: byte 32 + l (l < 16) → 160 + 16p + l;
            // 240..<256: byte 48 + l (l < 4), trits p < 4 → 240 + 4p + l.
            var power: UInt8 = 1
            for p in 0..<5 {
                for l in 0..<32 { output[32 * p + l] = d * trit(bytes[l], power) }
                for l in 0..<16 { output[160 + 16 * p + l] = d * trit(bytes[32 + l], power) }
                if p < 4 {
                    for l in 0..<4 { output[240 + 4 * p + l] = d * trit(bytes[48 + l], power) }
                }
                power &*= 3
            }
        }
    }

    @inline(__always)
    private static func trit(_ byte: UInt8, _ power: UInt8) -> Float {
        let shifted = UInt16(byte &* power)
        return Float(Int32((shifted &* 3) >> 8) - 1)
    }

    /// TQ2_0: 64 bytes of four 2-bit codes (code − 1 ∈ {−1, 0, 1}), then f16 d at 64.
    static func dequantizeTQ2_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 66, elements: 256) { block, output in
            let d = GGMLField.half(block, 64)
            for half in 0..<2 {
                let codes = (block + 32 * half).assumingMemoryBound(to: UInt8.self)
                for step in 0..<4 {
                    let out = output + 128 * half + 32 * step
                    let shift = UInt8(2 * step)
                    for l in 0..<32 { out[l] = d * Float(Int32((codes[l] >> shift) & 3) &- 1) }
                }
            }
        }
    }

    /// Half of 2^(e − 127) as a float (ggml's `GGML_E8M0_TO_FP32_HALF`): subnormal for e < 2.
    @inline(__always)
    static func e8m0Half(_ e: UInt8) -> Float {
        e < 2 ? Float(bitPattern: UInt32(0x0020_0000) << UInt32(e)) : Float(bitPattern: UInt32(e - 1) << 23)
    }

    // MARK: quantization (ggml's `quantize_row_tq*_ref`, as gguf-py implements it)

    static func quantizeTQ1_0(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        for index in 0..<blocks {
            let x = source + index * 256
            let block = destination + index * 54
            let id = ternaryScale(x, block, dAt: 52)
            @inline(__always) func code(_ e: Int) -> UInt16 { UInt16(GGMLRounding.halfAway(x[e] * id, limit: 1) + 1) }
            // Trits most significant first, then the fraction of 3^5 rounded up so that decoding truncates back.
            for l in 0..<32 {
                var value: UInt16 = 0
                for p in 0..<5 { value = value * 3 + code(32 * p + l) }
                GGMLField.storeByte(UInt8((value * 256 + 242) / 243), block, l)
            }
            for l in 0..<16 {
                var value: UInt16 = 0
                for p in 0..<5 { value = value * 3 + code(160 + 16 * p + l) }
                GGMLField.storeByte(UInt8((value * 256 + 242) / 243), block, 32 + l)
            }
            for l in 0..<4 {
                var value: UInt16 = 0
                for p in 0..<4 { value = value * 3 + code(240 + 4 * p + l) }
                value *= 3
                GGMLField.storeByte(UInt8((value * 256 + 242) / 243), block, 48 + l)
            }
        }
    }

    static func quantizeTQ2_0(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        for index in 0..<blocks {
            let x = source + index * 256
            let block = destination + index * 66
            let id = ternaryScale(x, block, dAt: 64)
            for half in 0..<2 {
                for l in 0..<32 {
                    var byte: UInt8 = 0
                    for step in 0..<4 {
                        let code = GGMLRounding.halfAway(x[128 * half + 32 * step + l] * id, limit: 1) + 1
                        byte |= UInt8(code) << UInt8(2 * step)
                    }
                    GGMLField.storeByte(byte, block, 32 * half + l)
                }
            }
        }
    }

    /// MXFP4 (ggml's `quantize_row_mxfp4_ref`): e = ⌊log2 max|x|⌋ − 2 + 127 with the C library's `log2f`
    /// as ggml calls it, then for each element the first code of least |value·d − x|.
    static func quantizeMXFP4(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        mxfp4Values.withUnsafeBufferPointer { values in
            GGMLBlocks.encode(source, destination, blocks, elements: 32, bytes: 17) { x, block in
                let amax = GGMLBlocks.maxMagnitude(x, count: 32)
                // Below 2^-125 ggml's cast to uint8_t is undefined; ckpt clamps to the smallest exponent.
                let exponent = amax > 0 ? floorf(log2f(amax)) - 2 + 127 : 0
                let e = UInt8(Swift.max(0, Swift.min(255, exponent)))
                let d = e8m0Half(e)
                GGMLField.storeByte(e, block, 0)
                @inline(__always) func code(_ value: Float) -> UInt8 {
                    var best: UInt8 = 0
                    var bestError = (values[0] * d - value).magnitude
                    for index in 1..<16 {
                        let error = (values[index] * d - value).magnitude
                        if error < bestError {
                            best = UInt8(index)
                            bestError = error
                        }
                    }
                    return best
                }
                for j in 0..<16 { GGMLField.storeByte(code(x[j]) | code(x[j + 16]) << 4, block, 1 + j) }
            }
        }
    }

    /// Stores d = max|x| and returns 1/d (0 for an all-zero block).
    @inline(__always)
    private static func ternaryScale(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer, dAt offset: Int) -> Float {
        let amax = GGMLBlocks.maxMagnitude(x, count: 256)
        GGMLField.storeHalf(amax, block, offset)
        return amax != 0 ? 1 / amax : 0
    }
}
