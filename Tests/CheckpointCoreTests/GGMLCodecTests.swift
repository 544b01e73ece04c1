import Testing
import CheckpointCore

/// Contract of GGMLCodec beyond the fixture comparisons (Tests/CheckpointFormatsTests/GGMLCodecFixtureTests):
/// typed errors for every malformed size, the formats.md golden block, zero blocks, and that the parallel
/// path gives the same bytes as block-by-block calls.
@Suite struct GGMLCodecTests {
    func dequantize(_ type: DType, _ bytes: [UInt8], floats: Int) throws(GGMLCodecError) -> [Float] {
        var output = [Float](repeating: .nan, count: floats)
        var failure: GGMLCodecError?
        bytes.withUnsafeBytes { source in
            output.withUnsafeMutableBufferPointer { destination in
                do throws(GGMLCodecError) { try GGMLCodec.dequantize(type, from: source, into: destination) } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return output
    }

    func quantize(_ type: DType, _ values: [Float], bytes: Int, rowLength: Int) throws(GGMLCodecError) -> [UInt8] {
        var output = [UInt8](repeating: 0xAA, count: bytes)
        var failure: GGMLCodecError?
        values.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBytes { destination in
                do throws(GGMLCodecError) {
                    try GGMLCodec.quantize(type, from: source, into: destination, rowLength: rowLength)
                } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return output
    }

    @Test func namesUnsupportedTypesWithTheirGGMLId() {
        #expect(!GGMLCodec.canQuantize(.iq2XXS))
        #expect(throws: GGMLCodecError.unsupported(.iq2XXS, .quantization)) { try quantize(.iq2XXS, [Float](repeating: 0, count: 256), bytes: 66, rowLength: 256) }
        #expect(GGMLCodecError.unsupported(.iq2XXS, .quantization).description == "IQ2_XXS (16) is not supported for quantization; ggml builds IQ2_XXS by a grid search best guided by an importance matrix: write f16 and run llama.cpp's llama-quantize --imatrix")
        #expect(GGMLCodecError.unsupported(.q2K, .quantization).description == "Q2_K (10) is not supported for quantization")
        #expect(GGMLCodecError.unsupported(.f8E4M3, .dequantization).description == "f8_e4m3 is not supported for dequantization")
        #expect(throws: GGMLCodecError.unsupported(.q3K, .quantization)) { try quantize(.q3K, [Float](repeating: 0, count: 256), bytes: 110, rowLength: 256) }
        #expect(throws: GGMLCodecError.unsupported(.f32, .dequantization)) { try dequantize(.f32, [0, 0, 0, 0], floats: 1) }
        for type in [DType.iq2XXS, .iq2XS, .iq3XXS, .iq1S, .iq3S, .iq2S, .iq1M] {
            #expect(!GGMLCodec.canQuantize(type) && GGMLCodec.quantizationAdvice(type) != nil)
        }
        #expect(GGMLCodec.quantizationAdvice(.q2K) == nil)
        for type in [DType.q8_1, .q8K, .q2K, .q3K, .iq4NL, .iq4XS] { #expect(!GGMLCodec.canQuantize(type)) }
    }

    @Test func rejectsMalformedSizes() {
        #expect(throws: GGMLCodecError.partialBlock(.q4_0, byteCount: 35)) { try dequantize(.q4_0, [UInt8](repeating: 0, count: 35), floats: 64) }
        #expect(throws: GGMLCodecError.destinationFloats(.q4K, expected: 256, actual: 255)) { try dequantize(.q4K, [UInt8](repeating: 0, count: 144), floats: 255) }
        #expect(throws: GGMLCodecError.rowLength(.q4K, rowLength: 32)) { try quantize(.q4K, [Float](repeating: 0, count: 256), bytes: 144, rowLength: 32) }
        #expect(throws: GGMLCodecError.rowLength(.q8_0, rowLength: 0)) { try quantize(.q8_0, [], bytes: 0, rowLength: 0) }
        #expect(throws: GGMLCodecError.partialRow(.q8_0, count: 96, rowLength: 64)) { try quantize(.q8_0, [Float](repeating: 0, count: 96), bytes: 102, rowLength: 64) }
        #expect(throws: GGMLCodecError.destinationBytes(.q8_0, expected: 68, actual: 67)) { try quantize(.q8_0, [Float](repeating: 0, count: 64), bytes: 67, rowLength: 64) }
        var values = [Float](repeating: 1, count: 64)
        values[37] = .infinity
        #expect(throws: GGMLCodecError.nonFinite(.q8_0, index: 37)) { try quantize(.q8_0, values, bytes: 68, rowLength: 32) }
        values[37] = .nan
        #expect(throws: GGMLCodecError.nonFinite(.q6K, index: 37)) { try quantize(.q6K, values + [Float](repeating: 0, count: 192), bytes: 210, rowLength: 256) }
        #expect(GGMLCodecError.partialBlock(.q4_0, byteCount: 35).description.contains("35 bytes is not a whole number of 18-byte blocks"))
        #expect(GGMLCodecError.rowLength(.q4K, rowLength: 32).description == "row length 32 is not a positive multiple of the Q4_K (12) block size 256; keep such a tensor in float")
    }

    @Test func emptyBuffersAreWholeBlocks() throws {
        #expect(try dequantize(.q6K, [], floats: 0).isEmpty)
        #expect(try quantize(.q6K, [], bytes: 0, rowLength: 256).isEmpty)
    }

    /// formats.md §2.5 golden (verified with gguf-py): x = (i − 16)/8.
    @Test func q8_0GoldenBlock() throws {
        let values = (0..<32).map { Float($0 - 16) / 8 }
        let expected: [UInt8] = [
            0x08, 0x24, 0x81, 0x89, 0x91, 0x99, 0xa1, 0xa9, 0xb1, 0xb9, 0xc0, 0xc8, 0xd0, 0xd8, 0xe0, 0xe8, 0xf0,
            0xf8, 0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77,
        ]
        #expect(try quantize(.q8_0, values, bytes: 34, rowLength: 32) == expected)
    }

    /// ggml writes an all-zero block of zeros for every type (the K-quant searches bail out on zero range).
    @Test(arguments: [DType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4K, .q5K, .q6K, .tq1_0, .tq2_0, .mxfp4])
    func zeroRowsEncodeToZeroScales(_ type: DType) throws {
        let layout = try #require(type.blockLayout)
        let bytes = try quantize(type, [Float](repeating: 0, count: 256), bytes: 256 / layout.elements * layout.bytes, rowLength: 256)
        let decoded = try dequantize(type, bytes, floats: 256)
        #expect(decoded.allSatisfy { $0 == 0 })
        if [DType.q4K, .q5K, .q6K, .q8_0, .q4_1, .q5_1, .mxfp4].contains(type) { #expect(bytes.allSatisfy { $0 == 0 }) }
    }

    /// Hand-computed blocks: Q4_0 of a block whose extreme is −8 has d = 1 and codes x + 8.
    @Test func q4_0HandBlock() throws {
        let values = (0..<32).map { Float($0 % 16) - 8 }
        let bytes = try quantize(.q4_0, values, bytes: 18, rowLength: 32)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x3C)  // f16 1.0
        let codes: [UInt8] = (0..<16).map { (code: Int) -> UInt8 in UInt8(code * 17) }
        #expect(Array(bytes[2...]) == codes)
        #expect(try dequantize(.q4_0, bytes, floats: 32) == values)
    }

    /// Many chunks in parallel give exactly the bytes and floats of row-by-row calls, and the K-quant
    /// round trip stays within the error the format allows.
    @Test(arguments: [DType.q8_0, .q4_1, .q4K, .q5K, .q6K])
    func parallelChunksMatchRowByRow(_ type: DType) throws {
        let layout = try #require(type.blockLayout)
        let rowLength = 4096, rows = 24
        var generator = SplitMix(seed: 7)
        let values = (0..<rowLength * rows).map { _ in generator.nextFloat() }
        let rowBytes = rowLength / layout.elements * layout.bytes
        let whole = try quantize(type, values, bytes: rowBytes * rows, rowLength: rowLength)
        var pieces: [UInt8] = []
        for row in 0..<rows {
            pieces += try quantize(type, Array(values[row * rowLength..<(row + 1) * rowLength]), bytes: rowBytes, rowLength: rowLength)
        }
        #expect(whole == pieces)
        let decoded = try dequantize(type, whole, floats: values.count)
        var rowByRow: [Float] = []
        for row in 0..<rows {
            rowByRow += try dequantize(type, Array(whole[row * rowBytes..<(row + 1) * rowBytes]), floats: rowLength)
        }
        #expect(decoded.map(\.bitPattern) == rowByRow.map(\.bitPattern))
        // Uniform values in [-1, 1): the worst element error stays within about one quantization step.
        let bound: Float = [.q6K: 0.04, .q5K: 0.07, .q4K: 0.14, .q8_0: 0.005, .q4_1: 0.08][type] ?? 0
        let worst = zip(values, decoded).map { ($0 - $1).magnitude }.max() ?? .infinity
        #expect(worst <= bound, "\(type.userName): worst error \(worst)")
    }
}

extension GGMLCodecTests {
    static let blockTypes = DType.allCases.filter(\.isBlockQuantized)

    /// Exactly the documented types are supported, in each direction.
    @Test func supportedTypes() {
        let decodable = Self.blockTypes.filter(GGMLCodec.canDequantize).map(\.userName)
        #expect(decodable == ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q8_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "iq1_m", "tq1_0", "tq2_0", "mxfp4"])
        let encodable = Self.blockTypes.filter(GGMLCodec.canQuantize).map(\.userName)
        #expect(encodable == ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q5_k", "q6_k", "tq1_0", "tq2_0", "mxfp4"])
        #expect(!DType.allCases.filter { !$0.isBlockQuantized }.contains(where: GGMLCodec.canDequantize))
    }

    /// Arbitrary bytes (NaN and infinite scales included, as in a corrupted file) decode without trapping.
    @Test(arguments: blockTypes.filter(GGMLCodec.canDequantize))
    func decodesArbitraryBytes(_ type: DType) throws {
        let layout = try #require(type.blockLayout)
        var generator = SplitMix(seed: UInt64(layout.bytes))
        let bytes = (0..<layout.bytes * 64).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let filled = [UInt8](repeating: 0xFF, count: layout.bytes * 2)
        let decoded = try dequantize(type, bytes + filled, floats: layout.elements * 66)
        #expect(decoded.count == layout.elements * 66)
    }

    /// Finite inputs at the ends of the float range encode without trapping and decode to the right count.
    @Test(arguments: blockTypes.filter(GGMLCodec.canQuantize))
    func encodesExtremeFiniteValues(_ type: DType) throws {
        let layout = try #require(type.blockLayout)
        let extremes: [Float] = [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude,
                                 -.leastNonzeroMagnitude, .leastNormalMagnitude, 1e-38, -3e38, 0, -0.0, 65504, 65520, 1e-8]
        var generator = SplitMix(seed: 11)
        var values: [Float] = []
        for row in 0..<extremes.count {
            // A row of one extreme, then the extreme mixed with ordinary values.
            values += [Float](repeating: extremes[row], count: 256)
            values += (0..<256).map { $0 % 3 == 0 ? extremes[row] : generator.nextFloat() }
        }
        let bytes = try quantize(type, values, bytes: values.count / layout.elements * layout.bytes, rowLength: 256)
        let decoded = try dequantize(type, bytes, floats: values.count)
        #expect(decoded.count == values.count)
        // The all-zero rows come back as zeros.
        let zeroRow = try #require(extremes.firstIndex(of: 0))
        #expect(decoded[(2 * zeroRow * 256)..<((2 * zeroRow + 1) * 256)].allSatisfy { $0 == 0 })
    }
}

/// A small deterministic generator of floats in [-1, 1).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}
