import Testing
import Foundation
@testable import CheckpointCore
@testable import CheckpointFormats

/// The grid-based i-quants beyond the random-block comparison of GGMLCodecFixtureTests: the generated
/// tables against gguf-py's own expansion of its grids, blocks with non-finite scales, unaligned blocks.
@Suite struct GGMLGridQuantTests {
    static let gridTypes: [DType] = [.iq2XXS, .iq2XS, .iq2S, .iq3XXS, .iq3S, .iq1S, .iq1M]

    /// Every entry of GGMLGridTables equals gguf-py's `init_grid` expansion (fixtures/ggml/grids.safetensors).
    @Test func tablesMatchGGUFPy() throws {
        let reader = try SafeTensorsReader(path: GGMLCodecFixtureTests.folder + "/grids.safetensors")
        func reference(_ name: String) throws -> (shape: [Int], bytes: [UInt8]) {
            let index = try #require(reader.tensors.firstIndex { $0.name == name }, "\(name)")
            return (reader.tensors[index].shape, Array(try reader.data(at: index).bytes))
        }
        #expect(try reference("ksigns").bytes == GGMLGridTables.ksigns)
        let wide: [(String, [UInt64])] = [
            ("IQ2_XXS", GGMLGridTables.iq2xxsGrid), ("IQ2_XS", GGMLGridTables.iq2xsGrid),
            ("IQ2_S", GGMLGridTables.iq2sGrid), ("IQ1_S", GGMLGridTables.iq1sGrid),
        ]
        for (name, grid) in wide {
            let expected = try reference(name)
            #expect(expected.shape == [grid.count, 8], "\(name)")
            let ours = grid.flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> UInt64(8 * $0)) } }
            #expect(ours == expected.bytes, "\(name)")
        }
        let narrow: [(String, [UInt32])] = [("IQ3_XXS", GGMLGridTables.iq3xxsGrid), ("IQ3_S", GGMLGridTables.iq3sGrid)]
        for (name, grid) in narrow {
            let expected = try reference(name)
            #expect(expected.shape == [grid.count, 4], "\(name)")
            let ours = grid.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(8 * $0)) } }
            #expect(ours == expected.bytes, "\(name)")
        }
    }

    /// A scale of +inf, -inf or NaN gives what gguf-py gives: IEEE products, ±inf or NaN per element.
    @Test(arguments: gridTypes)
    func nonFiniteScalesFollowTheReference(_ type: DType) throws {
        let fixture = try GGMLCodecFixtureTests.Fixture(type)
        let expected = try fixture.floats("nonfinite_dequantized")
        let ours = try GGMLCodecFixtureTests.dequantize(type, try fixture.bytes("nonfinite_blocks"), count: expected.count)
        let result = GGMLCodecFixtureTests.sameBits(ours, expected)
        #expect(result.matches, "\(type.userName): first difference at element \(result.first ?? -1)")
        #expect(ours.contains(.infinity) && ours.contains(-.infinity) && ours.contains { $0.isNaN })
    }

    /// Blocks at odd addresses decode the same, and the parallel path equals one call per block.
    @Test(arguments: gridTypes)
    func decodesUnalignedBlocksAndInParallel(_ type: DType) throws {
        let fixture = try GGMLCodecFixtureTests.Fixture(type)
        let blocks = try fixture.bytes("random_blocks")
        let expected = try fixture.floats("random_dequantized")
        var output = [Float](repeating: 0, count: expected.count)
        try ([0x55] + blocks).withUnsafeBytes { raw in
            let shifted = UnsafeRawBufferPointer(rebasing: raw[1...])
            try output.withUnsafeMutableBufferPointer { try GGMLCodec.dequantize(type, from: shifted, into: $0) }
        }
        #expect(GGMLCodecFixtureTests.sameBits(output, expected).matches)

        // Enough copies for several parallel chunks.
        let copies = GGMLCodec.chunkElements / expected.count * 3
        let many = [[UInt8]](repeating: blocks, count: copies).flatMap { $0 }
        let decoded = try GGMLCodecFixtureTests.dequantize(type, many, count: expected.count * copies)
        #expect(GGMLCodecFixtureTests.sameBits(decoded, [[Float]](repeating: expected, count: copies).flatMap { $0 }).matches)
    }

    /// Whatever the bytes (every index and sign at its maximum), decoding stays in the tables.
    @Test(arguments: gridTypes)
    func anyBytesDecode(_ type: DType) throws {
        let layout = try #require(type.blockLayout)
        var bytes = [UInt8](repeating: 0xFF, count: layout.bytes)
        // Keep the f16 d finite: 0x3BFF, or 0x3FFF from IQ1_M's nibbles.
        if type == .iq1M { bytes[55] = 0x3F } else { bytes[1] = 0x3B }
        let values = try GGMLCodecFixtureTests.dequantize(type, bytes, count: layout.elements)
        #expect(values.allSatisfy(\.isFinite) && values.contains { $0 != 0 }, "\(type.userName)")
    }
}
