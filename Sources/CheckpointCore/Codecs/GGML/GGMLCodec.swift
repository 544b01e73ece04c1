import Dispatch

/// Conversions between ggml block-quantized bytes and Float32.
///
/// Dequantization is bit-exact with gguf-py's `gguf.quants.dequantize` (and ggml's `dequantize_row_*`);
/// quantization with gguf-py's `gguf.quants.quantize` for the types it implements and with ggml's
/// `quantize_row_*_ref` for Q4_K, Q5_K and Q6_K (strict IEEE evaluation, no fused multiply-add). Large
/// buffers are split into bounded chunks converted in parallel.
public enum GGMLCodec {
    public static func canDequantize(_ type: DType) -> Bool { dequantizer(for: type) != nil }

    public static func canQuantize(_ type: DType) -> Bool { quantizer(for: type) != nil }

    /// What to do instead when ckpt cannot quantize to `type` because ggml builds it by a grid search
    /// that wants an importance matrix (the grid i-quants), for the end of an error message; nil for
    /// other types.
    public static func quantizationAdvice(_ type: DType) -> String? {
        switch type {
        case .iq2XXS, .iq2XS, .iq2S, .iq3XXS, .iq3S, .iq1S, .iq1M:
            return "ggml builds \(type.ggmlName ?? type.userName) by a grid search best guided by an importance matrix: write f16 and run llama.cpp's llama-quantize --imatrix"
        default:
            return nil
        }
    }

    /// Whole blocks of `type` in `source` → floats (destination.count == blocks × blockLayout.elements).
    public static func dequantize(
        _ type: DType, from source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>
    ) throws(GGMLCodecError) {
        try dequantize(type, from: source, into: destination, parallel: true)
    }

    /// Floats (a whole number of rows of `rowLength`) → blocks of `type`. `rowLength` must be a multiple
    /// of the block size (the reference quantizers work block by block, so it only checks the shape);
    /// a NaN or infinity is refused with its index.
    public static func quantize(
        _ type: DType, from source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableRawBufferPointer,
        rowLength: Int
    ) throws(GGMLCodecError) {
        try quantize(type, from: source, into: destination, rowLength: rowLength, parallel: true)
    }

    static func dequantize(
        _ type: DType, from source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>,
        parallel: Bool
    ) throws(GGMLCodecError) {
        guard let kernel = dequantizer(for: type), let layout = type.blockLayout else {
            throw .unsupported(type, .dequantization)
        }
        guard source.count % layout.bytes == 0 else { throw .partialBlock(type, byteCount: source.count) }
        let blocks = source.count / layout.bytes
        let (elements, overflow) = blocks.multipliedReportingOverflow(by: layout.elements)
        guard !overflow, destination.count == elements else {
            throw .destinationFloats(type, expected: overflow ? Int.max : elements, actual: destination.count)
        }
        guard blocks > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        nonisolated(unsafe) let (src, dst) = (input, output)
        forEachChunk(blocks: blocks, elementsPerBlock: layout.elements, parallel: parallel) { first, count in
            kernel(src + first * layout.bytes, dst + first * layout.elements, count)
        }
    }

    static func quantize(
        _ type: DType, from source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableRawBufferPointer,
        rowLength: Int, parallel: Bool
    ) throws(GGMLCodecError) {
        guard let kernel = quantizer(for: type), let layout = type.blockLayout else {
            throw .unsupported(type, .quantization)
        }
        guard rowLength > 0, rowLength % layout.elements == 0 else { throw .rowLength(type, rowLength: rowLength) }
        guard source.count % rowLength == 0 else { throw .partialRow(type, count: source.count, rowLength: rowLength) }
        let blocks = source.count / layout.elements
        let (bytes, overflow) = blocks.multipliedReportingOverflow(by: layout.bytes)
        guard !overflow, destination.count == bytes else {
            throw .destinationBytes(type, expected: overflow ? Int.max : bytes, actual: destination.count)
        }
        guard blocks > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        if let bad = firstNonFinite(source) { throw .nonFinite(type, index: bad) }
        nonisolated(unsafe) let (src, dst) = (input, output)
        forEachChunk(blocks: blocks, elementsPerBlock: layout.elements, parallel: parallel) { first, count in
            kernel(src + first * layout.elements, dst + first * layout.bytes, count)
        }
    }

    typealias Dequantizer = @Sendable (UnsafeRawPointer, UnsafeMutablePointer<Float>, Int) -> Void
    typealias Quantizer = @Sendable (UnsafePointer<Float>, UnsafeMutableRawPointer, Int) -> Void

    static func dequantizer(for type: DType) -> Dequantizer? {
        switch type {
        case .q4_0: return GGMLLegacyQuants.dequantizeQ4_0
        case .q4_1: return GGMLLegacyQuants.dequantizeQ4_1
        case .q5_0: return GGMLLegacyQuants.dequantizeQ5_0
        case .q5_1: return GGMLLegacyQuants.dequantizeQ5_1
        case .q8_0: return GGMLLegacyQuants.dequantizeQ8_0
        case .q8_1: return GGMLLegacyQuants.dequantizeQ8_1
        case .q2K: return GGMLKQuants.dequantizeQ2_K
        case .q3K: return GGMLKQuants.dequantizeQ3_K
        case .q4K: return GGMLKQuants.dequantizeQ4_K
        case .q5K: return GGMLKQuants.dequantizeQ5_K
        case .q6K: return GGMLKQuants.dequantizeQ6_K
        case .q8K: return GGMLKQuants.dequantizeQ8_K
        case .iq4NL: return GGMLLookupQuants.dequantizeIQ4_NL
        case .iq4XS: return GGMLLookupQuants.dequantizeIQ4_XS
        case .iq2XXS: return GGMLGridQuants.dequantizeIQ2_XXS
        case .iq2XS: return GGMLGridQuants.dequantizeIQ2_XS
        case .iq2S: return GGMLGridQuants.dequantizeIQ2_S
        case .iq3XXS: return GGMLGridQuants.dequantizeIQ3_XXS
        case .iq3S: return GGMLGridQuants.dequantizeIQ3_S
        case .iq1S: return GGMLGridQuants.dequantizeIQ1_S
        case .iq1M: return GGMLGridQuants.dequantizeIQ1_M
        case .tq1_0: return GGMLLookupQuants.dequantizeTQ1_0
        case .tq2_0: return GGMLLookupQuants.dequantizeTQ2_0
        case .mxfp4: return GGMLLookupQuants.dequantizeMXFP4
        default: return nil
        }
    }

    static func quantizer(for type: DType) -> Quantizer? {
        switch type {
        case .q4_0: return GGMLLegacyQuants.quantizeQ4_0
        case .q4_1: return GGMLLegacyQuants.quantizeQ4_1
        case .q5_0: return GGMLLegacyQuants.quantizeQ5_0
        case .q5_1: return GGMLLegacyQuants.quantizeQ5_1
        case .q8_0: return GGMLLegacyQuants.quantizeQ8_0
        case .q4K: return GGMLKQuantizers.quantizeQ4_K
        case .q5K: return GGMLKQuantizers.quantizeQ5_K
        case .q6K: return GGMLKQuantizers.quantizeQ6_K
        case .tq1_0: return GGMLLookupQuants.quantizeTQ1_0
        case .tq2_0: return GGMLLookupQuants.quantizeTQ2_0
        case .mxfp4: return GGMLLookupQuants.quantizeMXFP4
        default: return nil
        }
    }

    /// Elements per parallel chunk: big enough to amortise dispatch, small enough to stay in L2 and to
    /// balance two to a few dozen cores.
    static let chunkElements = 1 << 16

    /// Calls `body(firstBlock, blockCount)` over `blocks`, in parallel chunks when there is more than one.
    static func forEachChunk(blocks: Int, elementsPerBlock: Int, parallel: Bool, _ body: @Sendable (Int, Int) -> Void) {
        let blocksPerChunk = Swift.max(1, chunkElements / elementsPerBlock)
        let chunks = (blocks + blocksPerChunk - 1) / blocksPerChunk
        if chunks == 1 || !parallel {
            body(0, blocks)
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let first = chunk * blocksPerChunk
            body(first, Swift.min(blocksPerChunk, blocks - first))
        }
    }

    /// The index of the first NaN or infinity, if any (one vectorized pass before quantizing).
    static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        guard let base = values.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
        var start = 0
        while start + 16 <= values.count {
            let bits = raw.loadUnaligned(fromByteOffset: 4 * start, as: SIMD16<UInt32>.self)
            if any(bits & exponent .== exponent) { break }
            start += 16
        }
        return (start..<values.count).first { !values[$0].isFinite }
    }
}
