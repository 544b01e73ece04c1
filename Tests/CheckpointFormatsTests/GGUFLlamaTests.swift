import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// `--arch llama`: a transformers-saved Llama becomes the GGUF llama.cpp's converter lays out (names,
/// Q/K permutation, keys; reference made with gguf-py and the converter's permute), and back.
@Suite struct GGUFLlamaTests {
    static let folder = fixturesFolder + "/gguf"

    func convert(_ input: String, _ output: String, vocab: String? = nil) throws -> [String] {
        let reader = try Checkpoint.open(input)
        let target = try OutputTarget.resolve(path: output, format: nil, shardSize: nil)
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        let prepared = try LlamaConversion.prepare(input: input, reader: reader, toGGUF: target.storesBlockTypes, plan: &plan, vocabFrom: vocab)
        let (writer, _) = try target.makeWriter(carrying: prepared.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        return prepared.notes
    }

    /// The GGUF → Hugging Face direction with its config.json written beside the weights (as ckpt does).
    func convertWithSidecar(_ input: String, _ output: String) throws -> [String] {
        let reader = try Checkpoint.open(input)
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        let prepared = try LlamaConversion.prepare(input: input, reader: reader, toGGUF: false, plan: &plan, vocabFrom: nil)
        let (writer, _) = try OutputTarget.resolve(path: output, format: nil, shardSize: nil).makeWriter(carrying: prepared.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        let sidecar = try #require(prepared.sidecar)
        try writeBytes(sidecar.bytes, to: Paths.join(Paths.folder(of: output), sidecar.name))
        return writer.outputPaths + [sidecar.name]
    }

    @Test func configJSONForTheWayBack() throws {
        let reader = try Checkpoint.open(Self.folder + "/llama_from_hf.gguf")
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        let prepared = try LlamaConversion.prepare(input: "x.gguf", reader: reader, toGGUF: false, plan: &plan, vocabFrom: nil)
        let json = try JSONParser.parse(try #require(prepared.sidecar).bytes)
        let original = try JSONParser.parse(try fileBytes(Self.folder + "/hf_llama/config.json"))
        for key in ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "max_position_embeddings", "rms_norm_eps", "vocab_size", "head_dim", "tie_word_embeddings", "dtype", "model_type"] {
            #expect(json[key] == original[key], "\(key)")
        }
        #expect(json["rope_theta"] == original["rope_parameters"]?["rope_theta"])
    }

    @Test func huggingFaceToGGUFMatchesLlamaCppLayout() throws {
        let temporary = try makeTemporaryFolder("llama")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let notes = try convert(Self.folder + "/hf_llama", temporary + "/m.gguf", vocab: Self.folder + "/llama_tiny.gguf")
        #expect(notes.isEmpty)
        #expect(try fileBytes(temporary + "/m.gguf") == fileBytes(Self.folder + "/llama_from_hf.gguf"))
    }

    @Test func ggufToHuggingFaceUndoesThePermutation() throws {
        let temporary = try makeTemporaryFolder("llama-back")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        _ = try convert(Self.folder + "/llama_from_hf.gguf", temporary + "/model.safetensors")
        #expect(try fileBytes(temporary + "/model.safetensors") == fileBytes(Self.folder + "/hf_llama/model.safetensors"))
    }

    @Test func permutationMatchesTheConverterFormulaAndInverts() {
        // reshape(2 heads, 2, 3, …).swapaxes(1, 2): head rows [0 1 2 | 3 4 5] become [0 3 1 4 2 5].
        let forward = RowPermutation(heads: 2)
        #expect((0..<12).map { forward.sourceRow($0, rows: 12) } == [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11])
        let inverse = RowPermutation(heads: 2, inverse: true)
        for row in 0..<12 {
            #expect(forward.sourceRow(inverse.sourceRow(row, rows: 12), rows: 12) == row)
        }
        #expect(!RowPermutation(heads: 4).fits(rows: 12))
    }

    @Test func namesMapBothWays() throws {
        let config = try LlamaConfig.read(Self.folder + "/hf_llama")
        #expect(config.heads == 4 && config.kvHeads == 2 && config.ropeTheta == 10000 && config.headDim == 16)
        let q = try #require(LlamaNames.toGGUF("model.layers.1.self_attn.q_proj.weight", config: config) ?? nil)
        #expect(q.name == "blk.1.attn_q.weight" && q.rowPermutation == RowPermutation(heads: 4))
        let k = try #require(LlamaNames.toGGUF("model.layers.0.self_attn.k_proj.weight", config: config) ?? nil)
        #expect(k.name == "blk.0.attn_k.weight" && k.rowPermutation == RowPermutation(heads: 2))
        #expect((LlamaNames.toGGUF("model.embed_tokens.weight", config: config) ?? nil)?.name == "token_embd.weight")
        #expect((LlamaNames.toHF("blk.3.ffn_down.weight", config: config) ?? nil)?.name == "model.layers.3.mlp.down_proj.weight")
        #expect((LlamaNames.toHF("output.weight", config: config) ?? nil)?.name == "lm_head.weight")
        #expect(LlamaNames.toGGUF("model.layers.0.self_attn.rotary_emb.inv_freq", config: config) != nil)
        #expect((LlamaNames.toGGUF("model.layers.0.self_attn.rotary_emb.inv_freq", config: config) ?? nil) == nil)
        #expect(LlamaNames.toGGUF("vision.tower.weight", config: config) == nil)
        var tied = config
        tied.tieWordEmbeddings = true
        #expect(LlamaNames.toGGUF("lm_head.weight", config: tied) != nil && (LlamaNames.toGGUF("lm_head.weight", config: tied) ?? nil) == nil)
    }

    @Test func refusalsNameTheProblem() throws {
        let temporary = try makeTemporaryFolder("llama-bad")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        // No config.json next to the weights.
        #expect(throws: LlamaConfig.ConfigError.self) {
            _ = try convert(fixturesFolder + "/safetensors/small_model.safetensors", temporary + "/a.gguf")
        }
        // A vocabulary whose size does not match the embedding.
        try FileManager.default.copyItem(atPath: Self.folder + "/hf_llama", toPath: temporary + "/hf")
        #expect(throws: LlamaConversion.MappingError.self) {
            _ = try convert(temporary + "/hf", temporary + "/b.gguf", vocab: Self.folder + "/all_kv_types.gguf")
        }
        #expect(!FileManager.default.fileExists(atPath: temporary + "/b.gguf"))
    }

    /// llama3 RoPE scaling: the factors match convert_hf_to_gguf.py's computation (run in torch) bit for bit.
    @Test func llama3RopeFactorsMatchTheConverter() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.folder + "/rope_llama3.json"))
        let cases = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(cases.count == 3)
        for entry in cases {
            let rope = Llama3RopeScaling(factor: try #require(entry["factor"] as? Double), low: try #require(entry["low_freq_factor"] as? Double),
                                         high: try #require(entry["high_freq_factor"] as? Double),
                                         originalContext: try #require((entry["original_max_position_embeddings"] as? NSNumber)?.doubleValue))
            let factors = rope.factors(dim: try #require(entry["head_dim"] as? Int), theta: try #require(entry["rope_theta"] as? Double))
            #expect(factors.map { Int($0.bitPattern) } == (entry["bits"] as? [Int]))
        }
    }

    @Test func llama3RopeBecomesTheFirstTensor() throws {
        let temporary = try makeTemporaryFolder("llama3")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try FileManager.default.createDirectory(atPath: temporary + "/hf", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.folder + "/hf_llama/model.safetensors", toPath: temporary + "/hf/model.safetensors")
        var config = try String(contentsOfFile: Self.folder + "/hf_llama/config.json", encoding: .utf8)
        config = config.replacingOccurrences(of: "\"rope_type\": \"default\"", with: "\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 64")
        try config.write(toFile: temporary + "/hf/config.json", atomically: true, encoding: .utf8)
        _ = try convert(temporary + "/hf", temporary + "/m.gguf")
        let reader = try GGUFReader(path: temporary + "/m.gguf")
        #expect(reader.tensors.first?.name == "rope_freqs.weight")
        #expect(reader.tensors.first?.shape == [8])
        let expected = Llama3RopeScaling(factor: 8, low: 1, high: 4, originalContext: 64).factors(dim: 16, theta: 10000)
        #expect(Array(try reader.data(at: 0).bytes.bindMemory(to: Float.self)) == expected)
        #expect(Set(expected).count > 2, "the case covers all three branches")
        // Everything else is as without the scaling.
        let plain = try GGUFReader(path: Self.folder + "/llama_from_hf.gguf")
        #expect(Array(reader.tensors.dropFirst()) == plain.tensors)
        // And back: the computed tensor is dropped with a note.
        let notes = try convert(temporary + "/m.gguf", temporary + "/back.safetensors")
        #expect(notes.contains { $0.contains("rope_freqs.weight") })
        #expect(try fileBytes(temporary + "/back.safetensors") == fileBytes(Self.folder + "/hf_llama/model.safetensors"))
    }
}
