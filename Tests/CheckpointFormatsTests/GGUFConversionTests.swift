import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Converts `input` to `output` as `ckpt convert` does (metadata carried, derived GGUF keys added).
@discardableResult
func convertCheckpoint(_ input: String, _ output: String, dtype: DType? = nil, split: (size: Int, tensors: Int)? = nil) throws -> [String] {
    let reader = try Checkpoint.open(input)
    var target = try OutputTarget.resolve(path: output, format: nil, shardSize: nil)
    if let split { target = try target.splitting(maxSize: split.size, maxTensors: split.tensors) }
    var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: dtype, intDType: nil)
    if !target.storesBlockTypes { _ = try plan.dequantizeBlockTypes() }
    let (writer, _) = try target.makeWriter(carrying: reader.metadata, tensors: plan.outputTensors, overwrite: false)
    try Converter(reader: reader, plan: plan).run(into: writer)
    return writer.outputPaths
}

@Suite struct GGUFConversionTests {
    static let roundTripFixtures = ["escapes", "meta_only", "scalar_and_empty", "single_f32", "small_model", "unicode_names", "empty"]

    /// safetensors → GGUF → safetensors gives the reference file back byte for byte (names, shapes,
    /// dtypes, data and `__metadata__`).
    @Test(arguments: roundTripFixtures)
    func safetensorsRoundTripIsByteIdentical(_ name: String) throws {
        let temporary = try makeTemporaryFolder("gguf-roundtrip")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let original = fixturesFolder + "/safetensors/\(name).safetensors"
        try convertCheckpoint(original, temporary + "/m.gguf")
        try convertCheckpoint(temporary + "/m.gguf", temporary + "/back.safetensors")
        #expect(try fileBytes(temporary + "/back.safetensors") == fileBytes(original))
    }

    @Test func everyGGUFFloatAndIntegerDTypeRoundTrips() throws {
        let temporary = try makeTemporaryFolder("gguf-dtypes")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        var tensors: [(TensorInfo, [UInt8])] = []
        var state: UInt64 = 7
        for (index, dtype) in [DType.f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64].enumerated() {
            let info = try TensorInfo(name: "model.layers.\(index).w", dtype: dtype, shape: [3, 1, 5])
            tensors.append((info, (0..<info.byteCount).map { _ in state = state &* 6_364_136_223_846_793_005 &+ 1; return UInt8(truncatingIfNeeded: state >> 56) }))
        }
        let original = temporary + "/in.safetensors"
        try writeSafeTensors(original, metadata: [("format", "pt"), ("ü", "a\nb")], tensors)
        try convertCheckpoint(original, temporary + "/m.gguf")
        let gguf = try GGUFReader(path: temporary + "/m.gguf")
        #expect(gguf.header.metadata["safetensors.format"] == .string("pt"))
        #expect(gguf.header.metadata["safetensors.ü"] == .string("a\nb"))
        #expect(gguf.header.tensors.first { $0.info.name == "model.layers.0.w" }?.ne == [5, 1, 3])
        try convertCheckpoint(temporary + "/m.gguf", temporary + "/back.safetensors")
        #expect(try fileBytes(temporary + "/back.safetensors") == fileBytes(original))
    }

    @Test func derivedKeysForLlamaCpp() throws {
        let f16 = try TensorInfo(name: "w", dtype: .f16, shape: [4, 4])
        let norm = try TensorInfo(name: "n", dtype: .f32, shape: [4])
        let q8 = try TensorInfo(name: "q", dtype: .q8_0, shape: [2, 32])
        #expect(GGUFMetadataMapping.fileType(of: [f16, norm]) == 1)
        #expect(GGUFMetadataMapping.fileType(of: [norm]) == 0)
        #expect(GGUFMetadataMapping.fileType(of: [q8, norm]) == 7)
        #expect(GGUFMetadataMapping.fileType(of: [q8, f16]) == nil)
        var metadata = GGUFMetadata([GGUFKeyValue("general.architecture", .string("llama"))])
        GGUFMetadataMapping.addDerivedKeys(&metadata, tensors: [q8, norm])
        #expect(metadata.entries.map(\.key) == ["general.architecture", "general.quantization_version", "general.file_type"])
        #expect(metadata["general.quantization_version"] == .uint32(2))
        #expect(metadata["general.file_type"] == .uint32(7))
    }

    @Test func blockQuantizedTensorsNeverReachSafetensors() throws {
        let temporary = try makeTemporaryFolder("gguf-noblock")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let q8 = try TensorInfo(name: "q", dtype: .q8_0, shape: [2, 32])
        #expect(throws: ConversionPlan.PlanError.self) {
            _ = try OutputTarget.safetensors(path: temporary + "/out.safetensors").makeWriter(metadata: nil, tensors: [q8], overwrite: false)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty)
    }

    @Test func ggufToGGUFKeepsQuantizedBytes() throws {
        let temporary = try makeTemporaryFolder("gguf-copy")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try convertCheckpoint(fixturesFolder + "/gguf/all_types.gguf", temporary + "/copy.gguf")
        #expect(try fileBytes(temporary + "/copy.gguf") == fileBytes(fixturesFolder + "/gguf/all_types.gguf"))
    }

    /// Our split writer produces gguf-py's split set byte for byte (`split_max_tensors=2`), and reads back.
    @Test func splitWriterMatchesGGUFPy() throws {
        let temporary = try makeTemporaryFolder("gguf-split")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let reader = try Checkpoint.open(fixturesFolder + "/gguf/split/tiny-00001-of-00003.gguf")
        let metadata = GGUFMetadataMapping.ggufMetadata(from: reader.metadata)
        #expect(metadata.entries.map(\.key) == ["general.architecture", "general.name", "llama.block_count"])
        let writer = try GGUFSplitWriter(destination: temporary + "/tiny.gguf", metadata: metadata, tensors: reader.tensors, maxSize: 0, maxTensors: 2, overwrite: false)
        try Converter(reader: reader, plan: ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)).run(into: writer)
        let outputs = writer.outputPaths
        #expect(outputs.map { Paths.baseName(of: $0) } == (1...3).map { "tiny-0000\($0)-of-00003.gguf" })
        for output in outputs {
            #expect(try fileBytes(output) == fileBytes(fixturesFolder + "/gguf/split/" + Paths.baseName(of: output)))
        }
    }

    @Test func splitBySizeFollowsGGUFPyRule() throws {
        let tensors = try [100, 100, 50, 200, 10].enumerated().map { try TensorInfo(name: "t\($0.offset)", dtype: .i8, shape: [$0.element]) }
        #expect(GGUFSplitWriter.plan(tensors, maxSize: 250, maxTensors: 0) == [0..<3, 3..<5])
        #expect(GGUFSplitWriter.plan(tensors, maxSize: 249, maxTensors: 0) == [0..<2, 2..<3, 3..<5])
        #expect(GGUFSplitWriter.plan(tensors, maxSize: 0, maxTensors: 2) == [0..<2, 2..<4, 4..<5])
        #expect(GGUFSplitWriter.plan(tensors, maxSize: 10_000, maxTensors: 0) == [0..<5])
        #expect(GGUFSplitWriter.plan(tensors, maxSize: 1, maxTensors: 0).count == 5)
    }
}
