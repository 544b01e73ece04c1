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
}
