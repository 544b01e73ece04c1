/// The grid-based i-quants, dequantization only: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S and
/// IQ1_M. A block of 256 elements is a sequence of indices into a fixed grid of 4- or 8-element
/// vectors (`GGMLGridTables`), with per-group scales and, for IQ2/IQ3, sign bits (IQ1 adds a ±1/8 shift
/// instead). Every index is masked to its table's size, so any bytes decode without a bounds trap.
///
/// The arithmetic is gguf-py's and ggml's, in their order: IQ2 scales are `(d · (½ + s)) · ¼`, IQ3_XXS
/// `(d · (½ + s)) · ½`, IQ3_S `d · (2s + 1)`, IQ1 `d · (2s + 1)`; an element is `scale · grid` with the
/// sign applied after (a sign flip is exact), or `scale · (grid + delta)` for IQ1.
enum GGMLGridQuants {
    // MARK: IQ2 (grid values 8, 25, 43 in 8-element vectors)

    /// IQ2_XXS (66 bytes): f16 d, then 8 groups of 32 elements, each two u32: four grid indices
    /// (one per byte), and four 7-bit sign indices with a 4-bit scale in the top bits.
    static func dequantizeIQ2_XXS(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq2xxsGrid) { grid, signs in
            GGMLBlocks.decode(source, destination, blocks, bytes: 66, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                for group in 0..<8 {
                    let indices = GGMLField.u32(block, 2 + 8 * group)
                    let aux = GGMLField.u32(block, 6 + 8 * group)
                    let scale = d * (0.5 + Float(aux >> 28)) * 0.25
                    for part in 0..<4 {
                        let index = Int((indices >> UInt32(8 * part)) & 0xFF)
                        let sign = signs[Int((aux >> UInt32(7 * part)) & 0x7F)]
                        signedEight(grid[index], scale: scale, signs: sign, output + 32 * group + 8 * part)
                    }
                }
            }
        }
    }

    /// IQ2_XS (74 bytes): f16 d, 32 u16 (9-bit grid index, 7-bit sign index), 8 bytes of 4-bit scales
    /// (one per 16 elements, low nibble first).
    static func dequantizeIQ2_XS(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq2xsGrid) { grid, signs in
            GGMLBlocks.decode(source, destination, blocks, bytes: 74, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                for index in 0..<32 {
                    let q = GGMLField.u16(block, 2 + 2 * index)
                    let scale = iq2Scale(d, block, scalesAt: 66, index)
                    signedEight(grid[Int(q & 511)], scale: scale, signs: signs[Int(q >> 9)], output + 8 * index)
                }
            }
        }
    }

    /// IQ2_S (82 bytes): f16 d, 32 low index bytes, 32 sign bytes, 8 bytes of 2-bit index tops (four per
    /// byte), 8 bytes of 4-bit scales as in IQ2_XS.
    static func dequantizeIQ2_S(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq2sGrid) { grid, _ in
            GGMLBlocks.decode(source, destination, blocks, bytes: 82, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                for index in 0..<32 {
                    let top = (GGMLField.byte(block, 66 + index / 4) >> UInt8(2 * (index % 4))) & 3
                    let q = Int(GGMLField.byte(block, 2 + index)) | Int(top) << 8
                    let scale = iq2Scale(d, block, scalesAt: 74, index)
                    signedEight(grid[q], scale: scale, signs: GGMLField.byte(block, 34 + index), output + 8 * index)
                }
            }
        }
    }

    /// The IQ2_XS / IQ2_S scale of 8-element group `index`: nibble `index / 2` of the scale bytes.
    @inline(__always)
    private static func iq2Scale(_ d: Float, _ block: UnsafeRawPointer, scalesAt offset: Int, _ index: Int) -> Float {
        let s = (GGMLField.byte(block, offset + index / 4) >> UInt8(4 * (index / 2 % 2))) & 0xF
        return d * (0.5 + Float(s)) * 0.25
    }

    // MARK: IQ3 (4-element vectors of odd or spaced values)

    /// IQ3_XXS (98 bytes): f16 d, 64 grid index bytes, then per 32 elements a u32 of four 7-bit sign
    /// indices and a 4-bit scale in the top bits.
    static func dequantizeIQ3_XXS(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq3xxsGrid) { grid, signs in
            GGMLBlocks.decode(source, destination, blocks, bytes: 98, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                for group in 0..<8 {
                    let aux = GGMLField.u32(block, 66 + 4 * group)
                    let scale = d * (0.5 + Float(aux >> 28)) * 0.5
                    for part in 0..<4 {
                        let sign = signs[Int((aux >> UInt32(7 * part)) & 0x7F)]
                        let first = 2 + 8 * group + 2 * part
                        let out = output + 32 * group + 8 * part
                        signedFour(grid[Int(GGMLField.byte(block, first))], scale: scale, signs: sign, out)
                        signedFour(grid[Int(GGMLField.byte(block, first + 1))], scale: scale, signs: sign >> 4, out + 4)
                    }
                }
            }
        }
    }

    /// IQ3_S (110 bytes): f16 d, 64 low index bytes, 8 bytes of index top bits (one per index), 32 sign
    /// bytes, 4 bytes of 4-bit scales (one per 32 elements, low nibble first).
    static func dequantizeIQ3_S(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq3sGrid) { grid, _ in
            GGMLBlocks.decode(source, destination, blocks, bytes: 110, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                for group in 0..<8 {
                    let s = (GGMLField.byte(block, 106 + group / 2) >> UInt8(4 * (group % 2))) & 0xF
                    let scale = d * Float(1 + 2 * s)
                    let tops = GGMLField.byte(block, 66 + group)
                    for part in 0..<8 {
                        let q = Int(GGMLField.byte(block, 2 + 8 * group + part)) | Int((tops >> UInt8(part)) & 1) << 8
                        let sign = GGMLField.byte(block, 74 + 4 * group + part / 2) >> UInt8(4 * (part % 2))
                        signedFour(grid[q], scale: scale, signs: sign, output + 32 * group + 4 * part)
                    }
                }
            }
        }
    }

    // MARK: IQ1 (vectors of −1, 0, 1 shifted by ±1/8)

    /// IQ1_S (50 bytes): f16 d, 32 low index bytes, then per 32 elements a u16: four 3-bit index tops,
    /// a 3-bit scale (bits 12–14) and the sign of the shift (bit 15).
    static func dequantizeIQ1_S(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq1sGrid) { grid, _ in
            GGMLBlocks.decode(source, destination, blocks, bytes: 50, elements: 256) { block, output in
                let d = GGMLField.half(block, 0)
                for group in 0..<8 {
                    let high = GGMLField.u16(block, 34 + 2 * group)
                    let scale = d * Float(2 * ((high >> 12) & 7) + 1)
                    let delta: Float = high & 0x8000 == 0 ? iq1Delta : -iq1Delta
                    for part in 0..<4 {
                        let q = Int(GGMLField.byte(block, 2 + 4 * group + part)) | Int((high >> UInt16(3 * part)) & 7) << 8
                        shiftedEight(grid[q], scale: scale, delta: delta, output + 32 * group + 8 * part)
                    }
                }
            }
        }
    }

    /// IQ1_M (56 bytes, no whole f16 field): 32 low index bytes, 16 bytes of nibbles (3-bit index top,
    /// shift sign), 4 u16 holding twelve bits of 3-bit scales (one per 16 elements) each, and in their
    /// top nibbles the four nibbles of the f16 d, least significant first.
    static func dequantizeIQ1_M(_ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int) {
        withTables(GGMLGridTables.iq1sGrid) { grid, _ in
            GGMLBlocks.decode(source, destination, blocks, bytes: 56, elements: 256) { block, output in
                @inline(__always) func packed(_ word: Int) -> UInt16 { GGMLField.u16(block, 48 + 2 * word) }
                let bits = packed(0) >> 12 | (packed(1) >> 12) << 4 | (packed(2) >> 12) << 8 | (packed(3) >> 12) << 12
                let d = Float(bitPattern: HalfPrecision.f16ToF32Bits(bits))
                for index in 0..<32 {
                    let s = (packed(index / 8) >> UInt16(3 * (index / 2 % 4))) & 7
                    let scale = d * Float(2 * s + 1)
                    let nibble = (GGMLField.byte(block, 32 + index / 2) >> UInt8(4 * (index % 2))) & 0xF
                    let q = Int(GGMLField.byte(block, index)) | Int(nibble & 7) << 8
                    let delta: Float = nibble & 8 == 0 ? iq1Delta : -iq1Delta
                    shiftedEight(grid[q], scale: scale, delta: delta, output + 8 * index)
                }
            }
        }
    }

    /// ggml's `IQ1S_DELTA` (gguf-py's `IQ1_S.delta`).
    static let iq1Delta: Float = 0.125

    // MARK: element writers

    /// Eight elements `scale · byte j of word`, negated where bit j of `signs` is set (a sign flip of
    /// the product, as `· −1` gives it).
    @inline(__always)
    private static func signedEight(_ word: UInt64, scale: Float, signs: UInt8, _ out: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            let value = scale * Float(UInt8(truncatingIfNeeded: word >> UInt64(8 * j)))
            out[j] = Float(bitPattern: value.bitPattern ^ (UInt32((signs >> UInt8(j)) & 1) << 31))
        }
    }

    /// Four elements as `signedEight` does, from the low four bits of `signs`.
    @inline(__always)
    private static func signedFour(_ word: UInt32, scale: Float, signs: UInt8, _ out: UnsafeMutablePointer<Float>) {
        for j in 0..<4 {
            let value = scale * Float(UInt8(truncatingIfNeeded: word >> UInt32(8 * j)))
            out[j] = Float(bitPattern: value.bitPattern ^ (UInt32((signs >> UInt8(j)) & 1) << 31))
        }
    }

    /// Eight elements `scale · (grid + delta)` from the int8 bytes of an IQ1 grid word.
    @inline(__always)
    private static func shiftedEight(_ word: UInt64, scale: Float, delta: Float, _ out: UnsafeMutablePointer<Float>) {
        for j in 0..<8 {
            out[j] = scale * (Float(Int8(truncatingIfNeeded: word >> UInt64(8 * j))) + delta)
        }
    }

    /// Runs `body` with unchecked views of a grid and of `ksigns`: every index is masked to the table's
    /// size, so bounds checks would only slow the inner loops.
    @inline(__always)
    private static func withTables<Word>(
        _ grid: [Word], _ body: (UnsafeBufferPointer<Word>, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        grid.withUnsafeBufferPointer { words in
            GGMLGridTables.ksigns.withUnsafeBufferPointer { signs in body(words, signs) }
        }
    }
}
