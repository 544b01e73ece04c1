/// The 32-element block types of ggml's first generation (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1).
///
/// Dequantization follows ggml's `dequantize_row_*` (one float multiply, then one add for the types
/// with a minimum), which is what gguf-py's numpy code computes too. Quantization follows ggml's
/// `quantize_row_*_ref`, which gguf-py reproduces bit for bit.
enum GGMLLegacyQuants {
    // MARK: dequantization

    static func dequantizeQ4_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 18, elements: 32) { block, output in
            let d = GGMLField.half(block, 0)
            GGMLBlocks.nibbles(block, at: 2) { j, low, high in
                output[j] = Float(Int32(low) - 8) * d
                output[j + 16] = Float(Int32(high) - 8) * d
            }
        }
    }

    static func dequantizeQ4_1(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.decode(source, destination, blocks, bytes: 20, elements: 32) { block, output in
            let d = GGMLField.half(block, 0), m = GGMLField.half(block, 2)
            GGMLBlocks.nibbles(block, at: 4) { j, low, high in
                output[j] = Float(low) * d + m
                output[j + 16] = Float(high) * d + m
            }
        }
    }

    static func dequantizeQ5_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.bitSpread.withUnsafeBufferPointer { table in
            let spread = table.baseAddress.unsafelyUnwrapped
            GGMLBlocks.decode(source, destination, blocks, bytes: 22, elements: 32) { block, output in
                let d = GGMLField.half(block, 0)
                GGMLBlocks.fiveBitCodes(block, highAt: 2, quantsAt: 6, spread: spread) { j, low, high in
                    output[j] = Float(Int32(low) - 16) * d
                    output[j + 16] = Float(Int32(high) - 16) * d
                }
            }
        }
    }

    static func dequantizeQ5_1(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        GGMLBlocks.bitSpread.withUnsafeBufferPointer { table in
            let spread = table.baseAddress.unsafelyUnwrapped
            GGMLBlocks.decode(source, destination, blocks, bytes: 24, elements: 32) { block, output in
                let d = GGMLField.half(block, 0), m = GGMLField.half(block, 2)
                GGMLBlocks.fiveBitCodes(block, highAt: 4, quantsAt: 8, spread: spread) { j, low, high in
                    output[j] = Float(low) * d + m
                    output[j + 16] = Float(high) * d + m
                }
            }
        }
    }

    static func dequantizeQ8_0(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        dequantizeInt8Blocks(source, destination, blocks, blockBytes: 34, quantsAt: 2)
    }

    /// Q8_1 as ggml lays it out (36 bytes: f16 d, f16 s = d·Σq, 32 × i8). gguf-py's size table still says
    /// 40 (an old f32 layout) and it has no Q8_1 codec; the sum `s` is redundant and ignored.
    static func dequantizeQ8_1(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        dequantizeInt8Blocks(source, destination, blocks, blockBytes: 36, quantsAt: 4)
    }

    @inline(__always)
    private static func dequantizeInt8Blocks(
        _ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int,
        blockBytes: Int, quantsAt offset: Int
    ) {
        GGMLBlocks.decode(source, destination, blocks, bytes: blockBytes, elements: 32) { block, output in
            let d = GGMLField.half(block, 0)
            let quants = (block + offset).assumingMemoryBound(to: Int8.self)
            for j in 0..<32 { output[j] = Float(quants[j]) * d }
        }
    }

    // MARK: quantization

    static func quantizeQ8_0(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        GGMLBlocks.encode(source, destination, blocks, elements: 32, bytes: 34) { x, block in
            let d = GGMLBlocks.maxMagnitude(x, count: 32) / 127
            let id: Float = d != 0 ? 1 / d : 0
            GGMLField.storeHalf(d, block, 0)
            for j in 0..<32 {
                let q = GGMLRounding.halfAway(x[j] * id, limit: 127)
                GGMLField.storeByte(UInt8(truncatingIfNeeded: q), block, 2 + j)
            }
        }
    }

    /// Q4_0 / Q5_0: d = (the signed element of largest magnitude) / −2^(bits−1), codes truncated from
    /// x/d + 2^(bits−1) + ½.
    static func quantizeQ4_0(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        GGMLBlocks.encode(source, destination, blocks, elements: 32, bytes: 18) { x, block in
            let id = storeSymmetricScale(x, block, divisor: -8)
            for j in 0..<16 {
                let low = GGMLRounding.truncated(x[j] * id + 8.5, top: 15)
                let high = GGMLRounding.truncated(x[j + 16] * id + 8.5, top: 15)
                GGMLField.storeByte(low | high << 4, block, 2 + j)
            }
        }
    }

    static func quantizeQ5_0(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        GGMLBlocks.encode(source, destination, blocks, elements: 32, bytes: 22) { x, block in
            let id = storeSymmetricScale(x, block, divisor: -16)
            storeFiveBitCodes(block, highAt: 2, quantsAt: 6) { x[$0] * id + 16.5 }
        }
    }

    /// Q4_1 / Q5_1: d = (max − min) / (2^bits − 1), m = min, codes truncated from (x − min)/d + ½.
    static func quantizeQ4_1(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        GGMLBlocks.encode(source, destination, blocks, elements: 32, bytes: 20) { x, block in
            let (min, id) = storeAffineScale(x, block, levels: 15)
            for j in 0..<16 {
                let low = GGMLRounding.truncated((x[j] - min) * id + 0.5, top: 15)
                let high = GGMLRounding.truncated((x[j + 16] - min) * id + 0.5, top: 15)
                GGMLField.storeByte(low | high << 4, block, 4 + j)
            }
        }
    }

    static func quantizeQ5_1(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        GGMLBlocks.encode(source, destination, blocks, elements: 32, bytes: 24) { x, block in
            let (min, id) = storeAffineScale(x, block, levels: 31)
            storeFiveBitCodes(block, highAt: 4, quantsAt: 8) { (x[$0] - min) * id + 0.5 }
        }
    }

    /// Stores d = (first element of largest magnitude) / divisor and returns 1/d (0 when d is 0).
    @inline(__always)
    private static func storeSymmetricScale(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer, divisor: Float) -> Float {
        // The first element of largest magnitude (ggml's strict `<` scan, numpy's argmax), with its sign.
        let amax = GGMLBlocks.maxMagnitude(x, count: 32)
        var max: Float = 0
        for j in 0..<32 where x[j].magnitude == amax {
            max = x[j]
            break
        }
        let d = max / divisor
        GGMLField.storeHalf(d, block, 0)
        return d != 0 ? 1 / d : 0
    }

    /// Stores d = (max − min)/levels and m = min; returns min and 1/d (0 when d is 0).
    @inline(__always)
    private static func storeAffineScale(_ x: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer, levels: Float) -> (min: Float, id: Float) {
        var min = x[0], max = x[0]
        for j in 1..<32 {
            min = Swift.min(min, x[j])
            max = Swift.max(max, x[j])
        }
        let d = (max - min) / levels
        GGMLField.storeHalf(d, block, 0)
        GGMLField.storeHalf(min, block, 2)
        return (min, d != 0 ? 1 / d : 0)
    }

    /// Truncates `value(j)` to a 5-bit code for each element and packs nibbles and fifth bits.
    @inline(__always)
    private static func storeFiveBitCodes(
        _ block: UnsafeMutableRawPointer, highAt: Int, quantsAt: Int, _ value: (Int) -> Float
    ) {
        var high: UInt32 = 0
        for j in 0..<16 {
            let low = GGMLRounding.truncated(value(j), top: 31)
            let upper = GGMLRounding.truncated(value(j + 16), top: 31)
            GGMLField.storeByte((low & 0xF) | (upper & 0xF) << 4, block, quantsAt + j)
            high |= UInt32(low >> 4) << UInt32(j) | UInt32(upper >> 4) << UInt32(j + 16)
        }
        GGMLField.storeU32(high, block, highAt)
    }
}
