import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// GGUF LoRA adapters: PEFT folder → llama.cpp layout (reference written with gguf-py following
/// convert_lora_to_gguf.py), and the adapter checks llama.cpp applies when it loads one.
@Suite struct GGUFLoRATests {
    static let folder = fixturesFolder + "/gguf"

    func convert(_ output: String) throws -> [String] {
        let input = Self.folder + "/peft_lora"
        let reader = try Checkpoint.open(input)
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        let prepared = try LlamaLoRAConversion.prepare(folder: input, reader: reader, plan: &plan, baseConfig: Self.folder + "/hf_llama/config.json")
        let (writer, _) = try OutputTarget.resolve(path: output, format: nil, shardSize: nil).makeWriter(carrying: prepared.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        return prepared.notes
    }

    @Test func peftAdapterBecomesLlamaCppLayout() throws {
        let temporary = try makeTemporaryFolder("lora")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let notes = try convert(temporary + "/a.gguf")
        #expect(try fileBytes(temporary + "/a.gguf") == fileBytes(Self.folder + "/peft_lora.gguf"))
        #expect(notes.contains { $0.contains("2 module(s)") && $0.contains("up_proj") })
        #expect(notes.contains { $0.contains("base-layer") })
    }

    @Test func adapterStructureIsRead() throws {
        let reader = try GGUFReader(path: Self.folder + "/peft_lora.gguf")
        let adapter = try GGUFLoRAAdapter(metadata: reader.header.metadata, tensors: reader.tensors, file: reader.path)
        #expect(adapter.alpha == 8)
        #expect(adapter.architecture == "llama")
        #expect(adapter.pairs.count == 15)
        #expect(adapter.pairs.first?.base == "token_embd.weight")
        #expect(adapter.pairs.first { $0.base == "blk.0.ffn_down.weight" }?.rank == 2)
        #expect(adapter.pairs.filter { $0.rank == 4 }.count == 13)
        let lora = try GGUFReader(path: Self.folder + "/lora.gguf")
        let small = try GGUFLoRAAdapter(metadata: lora.header.metadata, tensors: lora.tensors, file: lora.path)
        #expect(small.alpha == 16 && small.pairs.map(\.base) == ["blk.0.attn_q.weight", "token_embd.weight"])
    }

    @Test func adapterRefusalsFollowLlamaCpp() throws {
        let base = GGUFMetadata([GGUFKeyValue("general.type", .string("adapter")), GGUFKeyValue("adapter.type", .string("lora"))])
        let a = try TensorInfo(name: "w.lora_a", dtype: .f32, shape: [4, 8])
        let b = try TensorInfo(name: "w.lora_b", dtype: .f32, shape: [8, 4])
        #expect(throws: GGUFLoRAAdapter.AdapterError.notAnAdapter(file: "f", type: "model")) {
            try GGUFLoRAAdapter(metadata: GGUFMetadata([GGUFKeyValue("general.type", .string("model"))]), tensors: [a, b], file: "f")
        }
        #expect(throws: GGUFLoRAAdapter.AdapterError.missingComponent(file: "f", base: "w")) {
            try GGUFLoRAAdapter(metadata: base, tensors: [a], file: "f")
        }
        #expect(throws: GGUFLoRAAdapter.AdapterError.unexpectedSuffix(file: "f", tensor: "w.weight")) {
            try GGUFLoRAAdapter(metadata: base, tensors: [a, b, try TensorInfo(name: "w.weight", dtype: .f32, shape: [8, 8])], file: "f")
        }
        #expect(throws: GGUFLoRAAdapter.AdapterError.rankMismatch(file: "f", base: "w")) {
            try GGUFLoRAAdapter(metadata: base, tensors: [a, try TensorInfo(name: "w.lora_b", dtype: .f32, shape: [8, 3])], file: "f")
        }
        // Missing alpha means "no alpha/rank factor" in llama.cpp: read as 0.
        #expect(try GGUFLoRAAdapter(metadata: base, tensors: [a, b], file: "f").alpha == 0)
    }

    @Test func peftScalesAndPatterns() throws {
        #expect(PEFTLoRAConfig.match([("down_proj", 2)], "model.layers.0.mlp.down_proj") == 2)
        #expect(PEFTLoRAConfig.match([("layers.0.mlp.down_proj", 2)], "model.layers.0.mlp.down_proj") == 2)
        #expect(PEFTLoRAConfig.match([("own_proj", 2)], "model.layers.0.mlp.down_proj") == nil)
        #expect(PEFTLoRAConfig.match([("q_proj", 1), ("layers\\.0\\..*", 2)], "model.layers.0.self_attn.q_proj") == 1)
        var config = try PEFTLoRAConfig(folder: Self.folder + "/peft_lora")
        #expect(config.rank == 4 && config.alpha == 8 && config.ggufAlpha == 8)
        #expect(config.scale(module: "model.layers.1.mlp.up_proj", rank: 4) == 1)
        #expect(config.scale(module: "model.layers.1.mlp.down_proj", rank: 2) == 4)
        config.useRSLoRA = true
        #expect(config.ggufAlpha == 16)
        #expect(config.scale(module: "model.layers.0.self_attn.q_proj", rank: 4) == 4)
    }

    /// GGUF LoRA → PEFT folder (the CLI's path), returning the folder.
    func toPEFT(_ folder: String) throws {
        let reader = try Checkpoint.open(Self.folder + "/peft_lora.gguf")
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        let prepared = try LlamaLoRAToPEFT.prepare(reader: reader, plan: &plan, baseConfig: Self.folder + "/hf_llama")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let output = folder + "/" + (prepared.outputName ?? "")
        let (writer, _) = try OutputTarget.safetensors(path: output).makeWriter(carrying: prepared.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        let sidecar = try #require(prepared.sidecar)
        try writeBytes(sidecar.bytes, to: folder + "/" + sidecar.name)
    }

    @Test func ggufAdapterBackToPEFTAndAgainIsByteIdentical() throws {
        let temporary = try makeTemporaryFolder("lora-peft")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try toPEFT(temporary + "/peft")
        let config = try PEFTLoRAConfig(folder: temporary + "/peft")
        #expect(config.rank == 4 && config.alpha == 8 && !config.useRSLoRA)
        #expect(config.rankPattern.map(\.key) == ["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"])
        let names = try SafeTensorsReader(path: temporary + "/peft/adapter_model.safetensors").tensors.map(\.name)
        #expect(names.contains("base_model.model.model.embed_tokens.lora_embedding_A"))
        #expect(names.contains("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"))
        // Back to GGUF: the same file (the permutation, transpose and scales invert exactly).
        let reader = try Checkpoint.open(temporary + "/peft")
        var plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        let prepared = try LlamaLoRAConversion.prepare(folder: temporary + "/peft", reader: reader, plan: &plan, baseConfig: Self.folder + "/hf_llama")
        #expect(prepared.notes.isEmpty)
        let (writer, _) = try OutputTarget.resolve(path: temporary + "/again.gguf", format: nil, shardSize: nil).makeWriter(carrying: prepared.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        #expect(try fileBytes(temporary + "/again.gguf") == fileBytes(Self.folder + "/peft_lora.gguf"))
    }
}
