import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Conversions through the ggml block codecs, against gguf-py's `quants.quantize` / `quants.dequantize`
/// (fixtures/gguf/quant_reference.gguf, dequantized.json).
@Suite struct GGUFQuantizationTests {
    static let folder = fixturesFolder + "/gguf"

    static let quantizedByGGUFPy: [DType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .tq1_0, .tq2_0, .mxfp4]

    @Test(arguments: quantizedByGGUFPy)
    func quantizationIsBitExactWithGGUFPy(_ type: DType) throws {
        let temporary = try makeTemporaryFolder("quantize")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let output = temporary + "/q.gguf"
        try convertCheckpoint(Self.folder + "/quant_source.safetensors", output, dtype: type)
        let ours = try GGUFReader(path: output)
        let reference = try GGUFReader(path: Self.folder + "/quant_reference.gguf")
        let w = try #require(ours.tensors.firstIndex { $0.name == "w" })
        let bias = try #require(ours.tensors.firstIndex { $0.name == "bias" })
        #expect(ours.tensors[w].dtype == type)
        #expect(ours.tensors[bias].dtype == .f32, "1-D tensors stay in float")
        let name = "w." + (GGMLType.name(of: type) ?? "").lowercased()
        let index = try #require(reference.tensors.firstIndex { $0.name == name })
        #expect(Array(try ours.data(at: w).bytes) == Array(try reference.data(at: index).bytes), "\(name)")
        #expect(ours.header.metadata["general.quantization_version"] == .uint32(2))
    }

    @Test func dequantizationIsBitExactWithGGUFPy() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.folder + "/dequantized.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: String]])
        let temporary = try makeTemporaryFolder("dequantize")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let reader = try Checkpoint.open(Self.folder + "/all_types.gguf")
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: .f32, intDType: nil)
        #expect(try plan.dequantizeBlockTypes() == 0)
        let output = temporary + "/f32.safetensors"
        let (writer, _) = try OutputTarget.safetensors(path: output).makeWriter(carrying: reader.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        let ours = try SafeTensorsReader(path: output)
        var checked = 0
        for (name, entry) in expected {
            guard let index = ours.tensors.firstIndex(where: { $0.name == name }) else { continue }
            #expect(ours.tensors[index].dtype == .f32)
            #expect(SHA256.hex(try ours.data(at: index).bytes) == entry["sha256"], "\(name) (\(entry["type"] ?? ""))")
            checked += 1
        }
        // Every tensor gguf-py dequantizes (all block types but Q8_1, whose gguf-py layout is not ggml's).
        #expect(checked == expected.count)
    }

    /// The grid i-quants (IQ2_XXS written by gguf-py's GGUFWriter with raw_dtype, and the others) convert
    /// to f32 safetensors with gguf-py's values, through the plain conversion path; to GGUF they are
    /// copied byte for byte.
    @Test func gridIQuantsConvertToSafetensors() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.folder + "/dequantized.json"))
        let expected = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: String]])
        let temporary = try makeTemporaryFolder("iquant")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try convertCheckpoint(Self.folder + "/all_types.gguf", temporary + "/x.safetensors")
        let ours = try SafeTensorsReader(path: temporary + "/x.safetensors")
        let names = ["t_iq2_xxs", "t_iq2_xs", "t_iq2_s", "t_iq3_xxs", "t_iq3_s", "t_iq1_s", "t_iq1_m"]
        for name in names {
            let index = try #require(ours.tensors.firstIndex { $0.name == name }, "\(name)")
            #expect(ours.tensors[index].dtype == .f32 && ours.tensors[index].shape == [2, 256])
            #expect(SHA256.hex(try ours.data(at: index).bytes) == expected[name]?["sha256"], "\(name)")
        }
        try convertCheckpoint(Self.folder + "/all_types.gguf", temporary + "/copy.gguf")
        #expect(try fileBytes(temporary + "/copy.gguf") == fileBytes(Self.folder + "/all_types.gguf"))
    }

    @Test func dtypeRulesChooseFirstMatch() throws {
        let rules = try DTypeRules(["attn_(q|k)=q8_0", "blk\\.=q4_k", "output=f16"])
        #expect(rules.dtype(for: "blk.0.attn_q.weight") == .q8_0)
        #expect(rules.dtype(for: "blk.0.ffn_up.weight") == .q4K)
        #expect(rules.dtype(for: "output.weight") == .f16)
        #expect(rules.dtype(for: "token_embd.weight") == nil)
        #expect(throws: DTypeRules.RuleError.self) { try DTypeRules(["x=q9_9"]) }
        #expect(throws: ConversionPlan.PlanError.self) {
            try ConversionPlan(tensors: [], selection: TensorSelection(), floatDType: .iq2XXS, intDType: nil)
        }
    }

    @Test func permutedRowsQuantizeLikeTheReferenceLayout() throws {
        // --arch llama with --dtype q8_0: the Q/K permutation and the quantization compose (rows are whole blocks).
        let temporary = try makeTemporaryFolder("llama-q8")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let reader = try Checkpoint.open(Self.folder + "/hf_llama")
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: .q8_0, intDType: nil)
        let prepared = try LlamaConversion.prepare(input: Self.folder + "/hf_llama", reader: reader, toGGUF: true, plan: &plan, vocabFrom: nil)
        let (writer, _) = try OutputTarget.gguf(path: temporary + "/q.gguf", splitMaxSize: 0, splitMaxTensors: 0).makeWriter(carrying: prepared.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        let ours = try GGUFReader(path: temporary + "/q.gguf")
        let f16 = try GGUFReader(path: Self.folder + "/llama_from_hf.gguf")
        let q = try #require(ours.tensors.firstIndex { $0.name == "blk.0.attn_q.weight" })
        let reference = try #require(f16.tensors.firstIndex { $0.name == "blk.0.attn_q.weight" })
        #expect(ours.tensors[q].dtype == .q8_0)
        // Quantizing the reference (already permuted) f16 rows gives the same blocks.
        let count = f16.tensors[reference].elementCount
        var floats = [Float](repeating: 0, count: count)
        try floats.withUnsafeMutableBytes { try ElementConverter.convert(try f16.data(at: reference).bytes, from: .f16, into: $0, to: .f32, count: count) }
        var blocks = [UInt8](repeating: 0, count: ours.tensors[q].byteCount)
        try floats.withUnsafeBufferPointer { source in
            try blocks.withUnsafeMutableBytes { try GGMLCodec.quantize(.q8_0, from: source, into: $0, rowLength: 64) }
        }
        #expect(Array(try ours.data(at: q).bytes) == blocks)
        #expect(ours.header.metadata["general.file_type"] == .uint32(7))
    }
}
