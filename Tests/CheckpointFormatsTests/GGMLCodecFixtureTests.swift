import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// ckpt's ggml block codecs against fixtures/ggml (made by gguf-py, and by ggml's own reference
/// quantizers for Q4_K/Q5_K/Q6_K): every float and every byte must match.
@Suite struct GGMLCodecFixtureTests {
    static let folder = fixturesFolder + "/ggml"

    static let dequantizable: [DType] = [
        .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .q2K, .q3K, .q4K, .q5K, .q6K, .q8K,
        .iq4NL, .iq4XS, .tq1_0, .tq2_0, .mxfp4, .iq2XXS, .iq2XS, .iq2S, .iq3XXS, .iq3S, .iq1S, .iq1M,
    ]
    static let quantizable: [DType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4K, .q5K, .q6K, .tq1_0, .tq2_0, .mxfp4]

    struct Fixture {
        var tensors: [String: (info: TensorInfo, bytes: [UInt8])] = [:]

        init(_ type: DType) throws {
            let name = try #require(type.ggmlName)
            let reader = try SafeTensorsReader(path: GGMLCodecFixtureTests.folder + "/\(name).safetensors")
            for (index, info) in reader.tensors.enumerated() {
                tensors[info.name] = (info, Array(try reader.data(at: index).bytes))
            }
        }

        func floats(_ name: String) throws -> [Float] {
            let tensor = try #require(tensors[name])
            #expect(tensor.info.dtype == .f32)
            return tensor.bytes.withUnsafeBytes { raw in
                (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
        }

        func bytes(_ name: String) throws -> [UInt8] { try #require(tensors[name]).bytes }
    }

    /// Bit equality, except that any NaN matches any NaN (the payload of inf·0 is the CPU's choice).
    static func sameBits(_ ours: [Float], _ theirs: [Float]) -> (matches: Bool, first: Int?) {
        guard ours.count == theirs.count else { return (false, nil) }
        for index in ours.indices where ours[index].bitPattern != theirs[index].bitPattern {
            if ours[index].isNaN && theirs[index].isNaN { continue }
            return (false, index)
        }
        return (true, nil)
    }

    static func dequantize(_ type: DType, _ bytes: [UInt8], count: Int) throws -> [Float] {
        var output = [Float](repeating: -1, count: count)
        try bytes.withUnsafeBytes { source in
            try output.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(type, from: source, into: $0) }
        }
        return output
    }

    @Test(arguments: dequantizable)
    func dequantizesRandomBlocksExactly(_ type: DType) throws {
        #expect(GGMLCodec.canDequantize(type))
        let fixture = try Fixture(type)
        let expected = try fixture.floats("random_dequantized")
        let ours = try Self.dequantize(type, try fixture.bytes("random_blocks"), count: expected.count)
        let result = Self.sameBits(ours, expected)
        #expect(result.matches, "\(type.userName): first difference at element \(result.first ?? -1)")
    }

    @Test(arguments: quantizable)
    func quantizesLikeTheReference(_ type: DType) throws {
        #expect(GGMLCodec.canQuantize(type))
        let fixture = try Fixture(type)
        let input = try fixture.floats("input")
        let expected = try fixture.bytes("quantized")
        #expect(input.count >= 16 * 256)
        var ours = [UInt8](repeating: 0xAA, count: expected.count)
        try input.withUnsafeBufferPointer { source in
            try ours.withUnsafeMutableBytes { try GGMLCodec.quantize(type, from: source, into: $0, rowLength: 256) }
        }
        let firstDifference = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "\(type.userName): first differing byte \(firstDifference ?? -1) (block \((firstDifference ?? 0) / (type.blockLayout?.bytes ?? 1)))")

        let dequantized = try fixture.floats("dequantized")
        let decoded = try Self.dequantize(type, expected, count: dequantized.count)
        let result = Self.sameBits(decoded, dequantized)
        #expect(result.matches, "\(type.userName): first difference at element \(result.first ?? -1)")
    }

    /// Blocks at odd addresses (GGUF alignment can be 1) decode the same.
    @Test func decodesUnalignedBlocks() throws {
        let fixture = try Fixture(.q4K)
        let blocks = try fixture.bytes("random_blocks")
        let expected = try fixture.floats("random_dequantized")
        var output = [Float](repeating: 0, count: expected.count)
        try ([0x55] + blocks).withUnsafeBytes { raw in
            let shifted = UnsafeRawBufferPointer(rebasing: raw[1...])
            try output.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(.q4K, from: shifted, into: $0) }
        }
        #expect(Self.sameBits(output, expected).matches)
    }
}
