/// Dequantization of the 256-element "K" super-blocks (Q2_K … Q8_K), in ggml's `dequantize_row_*`
/// element order and operation order (`(d·scale)·q − dmin·min`), which gguf-py's numpy code shares.
enum GGMLKQuants {
    static func dequantizeQ2_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 84, elements: 256) { block, output in
            let bytes = block.assumingMemoryBound(to: UInt8.self)
            let d = GGMLField.half(block, 80)
            let dmin = GGMLField.half(block, 82)
            // Group g (16 elements) reads 2-bit field `shift` of 16 consecutive quant bytes.
            for group in 0..<16 {
                let scale = bytes[group]
                let dl = d * Float(scale & 0xF)
                let ml = dmin * Float(scale >> 4)
                let half = group / 8, step = (group % 8) / 2, second = group % 2
                let quants = bytes + (16 + 32 * half + 16 * second)
                let shift = UInt8(2 * step)
                let out = output + 16 * group
                for l in 0..<16 { out[l] = dl * Float((quants[l] >> shift) & 3) - ml }
            }
        }
    }

    static func dequantizeQ3_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 110, elements: 256) { block, output in
            let bytes = block.assumingMemoryBound(to: UInt8.self)
            let d = GGMLField.half(block, 108)
            for group in 0..<16 {
                // 16 six-bit scales: low nibbles from bytes 96...103, high two bits from bytes 104...107.
                let lowByte = bytes[96 + group % 8]
                let low = group < 8 ? lowByte & 0xF : lowByte >> 4
                let high = (bytes[104 + group % 4] >> UInt8(2 * (group / 4))) & 3
                let dl = d * Float(Int32(low | high << 4) - 32)
                // Elements 32t...32t+31 take 2-bit field (t % 4) of quant bytes 32·(t/4)..., high bit t of hmask.
                let t = group / 2, second = group % 2
                let quants = bytes + (32 + 32 * (t / 4) + 16 * second)
                let mask = bytes + 16 * second
                let shift = UInt8(2 * (t % 4)), maskShift = UInt8(t)
                let out = output + 16 * group
                for l in 0..<16 {
                    let q = Int32((quants[l] >> shift) & 3)
                    let missingHigh = Int32(((mask[l] >> maskShift) & 1) ^ 1)
                    out[l] = dl * Float(q &- missingHigh &* 4)
                }
            }
        }
    }

    /// Scale and min `j` (0...7) of the 12 packed bytes of Q4_K / Q5_K (ggml's `get_scale_min_k4`).
    @inline(__always)
    static func scaleMin(_ j: Int, _ block: UnsafeRawPointer, at offset: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (GGMLField.byte(block, offset + j) & 63, GGMLField.byte(block, offset + j + 4) & 63)
        }
        let mixed = GGMLField.byte(block, offset + j + 4)
        let scale = (mixed & 0xF) | (GGMLField.byte(block, offset + j - 4) >> 6) << 4
        let min = (mixed >> 4) | (GGMLField.byte(block, offset + j) >> 6) << 4
        return (scale, min)
    }

    static func dequantizeQ4_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        dequantizeWithMinimum(source, destination, blocks, fiveBit: false)
    }

    static func dequantizeQ5_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        dequantizeWithMinimum(source, destination, blocks, fiveBit: true)
    }

    /// Q4_K / Q5_K: 8 sub-blocks of 32 with a 6-bit scale and min; Q5_K adds a fifth bit per element
    /// (bit `sub` of qh[l]) and moves the nibbles from offset 16 to 48.
    @inline(__always)
    private static func dequantizeWithMinimum(
        _ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int, fiveBit: Bool
    ) {
        let quantsAt = fiveBit ? 48 : 16
        GGMLBlocks.decode(source, destination, blocks, bytes: fiveBit ? 176 : 144, elements: 256) { block, output in
            let d = GGMLField.half(block, 0)
            let dmin = GGMLField.half(block, 2)
            let bytes = block.assumingMemoryBound(to: UInt8.self)
            for sub in 0..<8 {
                let (scale, min) = scaleMin(sub, block, at: 4)
                let dl = d * Float(scale)
                let ml = dmin * Float(min)
                let quants = bytes + (quantsAt + 32 * (sub / 2))
                let shift = UInt8(4 * (sub % 2))
                let out = output + 32 * sub
                if fiveBit {
                    let highBits = bytes + 16
                    let highShift = UInt8(sub)
                    for l in 0..<32 {
                        let code = (quants[l] >> shift) & 0xF | ((highBits[l] >> highShift) & 1) << 4
                        out[l] = dl * Float(code) - ml
                    }
                } else {
                    for l in 0..<32 { out[l] = dl * Float((quants[l] >> shift) & 0xF) - ml }
                }
            }
        }
    }

    static func dequantizeQ6_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 210, elements: 256) { block, output in
            let bytes = block.assumingMemoryBound(to: UInt8.self)
            let d = GGMLField.half(block, 208)
            for group in 0..<16 {
                let dl = d * Float(Int8(bitPattern: bytes[192 + group]))
                // Element e = 128h + 32r + l: low nibble (r < 2) or high nibble (r ≥ 2) of ql[64h + 32(r%2) + l],
                // two high bits 2r of qh[32h + l].
                let h = group / 8, r = (group % 8) / 2, second = group % 2
                let low = bytes + (64 * h + 32 * (r % 2) + 16 * second)
                let high = bytes + (128 + 32 * h + 16 * second)
                let lowShift = UInt8(4 * (r / 2)), highShift = UInt8(2 * r)
                let out = output + 16 * group
                for l in 0..<16 {
                    let code = (low[l] >> lowShift) & 0xF | ((high[l] >> highShift) & 3) << 4
                    out[l] = dl * Float(Int32(code) &- 32)
                }
            }
        }
    }

    /// Q8_K: f32 d, 256 × i8, then 16 i16 group sums that only the dot products use.
    static func dequantizeQ8_K(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 292, elements: 256) { block, output in
            let d = GGMLField.f32(block, 0)
            let quants = (block + 4).assumingMemoryBound(to: Int8.self)
            for j in 0..<256 { output[j] = d * Float(quants[j]) }
        }
    }
}
