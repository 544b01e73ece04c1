import Testing
import Foundation
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
@testable import CheckpointSurgery

/// The adapter as a `LoRAOutput` with its factors unchanged (no SVD): what a pure layout conversion writes.
func unchangedOutput(_ adapter: Adapter, dtype: DType = .f32) -> LoRAOutput {
    let modules = adapter.deltas.compactMap { delta -> LoRAOutput.Module? in
        guard let block = delta.blocks.first else { return nil }
        return LoRAOutput.Module(module: delta.module, kind: delta.kind, kernel: delta.kernel, b: block.b, a: block.a,
                                 alpha: block.scale * Double(block.a.rows), bias: delta.bias)
    }
    var output = LoRAOutput(modules: modules, dtype: dtype)
    output.naming = ModuleNaming(of: adapter)
    return output
}

@Suite struct LayoutWriterTests {
    static let gguf = RankFixtures.folder + "/gguf"
    static let llama = GGUFArchitectureSource(architecture: "llama", evidence: "test")

    /// The GGUF writer gives the llama.cpp layout the gguf fixture's reference was written in with
    /// gguf-py following convert_lora_to_gguf.py: the same names, shapes and bits of every factor
    /// (Q/K rows permuted, token_embd's A transposed, up_proj's scale 4/4 folded as ×0.5 against alpha 8).
    @Test func ggufOutputIsConvertLoRAToGGUFLayout() throws {
        let adapter = try Adapter.load(path: Self.gguf + "/peft_lora")
        let folder = try RankFixtures.temporaryFolder("gguf-writer")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let options = AdapterOutputWriter.Options(llamaConfig: try LlamaConfig.read(Self.gguf + "/hf_llama"), architecture: Self.llama)
        let written = try AdapterOutputWriter.write(unchangedOutput(adapter), layout: .gguf, to: folder + "/a.gguf", options: options, overwrite: false)
        #expect(written.notes.contains { $0.contains("2 module(s)") && $0.contains("blk.0.ffn_up, blk.1.ffn_up") })
        let ours = try Checkpoint.open(folder + "/a.gguf"), reference = try Checkpoint.open(Self.gguf + "/peft_lora.gguf")
        #expect(ours.metadata.gguf?["adapter.lora.alpha"] == .float32(8))
        #expect(ours.metadata.gguf?["general.architecture"]?.text == "llama")
        #expect(ours.metadata.gguf?["general.type"]?.text == "adapter" && ours.metadata.gguf?["adapter.type"]?.text == "lora")
        #expect(Set(ours.tensors.map(\.name)) == Set(reference.tensors.map(\.name)))
        let mine = AdapterTensors(reader: ours), theirs = AdapterTensors(reader: reference)
        for info in reference.tensors {
            #expect(mine.info(info.name)?.shape == info.shape, "\(info.name)")
            #expect(try mine.values(info.name) == theirs.values(info.name), "\(info.name)")
        }
    }

    /// kohya's alpha keeps the scale exactly: stored in the factor dtype when it holds it, in F32 when
    /// not (12.3 in bf16), and α·√r for rsLoRA so that kohya's alpha / r is α/√r.
    @Test func kohyaAlphaKeepsTheScale() throws {
        let folder = try RankFixtures.temporaryFolder("kohya-alpha")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func module(_ name: String, alpha: Double) throws -> LoRAOutput.Module {
            LoRAOutput.Module(module: name, kind: .linear, kernel: [], b: Matrix(rows: 4, columns: 4), a: Matrix(rows: 4, columns: 6), alpha: alpha)
        }
        var output = LoRAOutput(modules: [try module("lora_unet_a", alpha: 16), try module("lora_unet_b", alpha: 12.3)], dtype: .bf16)
        output.naming = .kohya
        try AdapterOutputWriter.write(output, layout: .kohya, to: folder + "/k.safetensors", overwrite: false)
        let tensors = AdapterTensors(reader: try Checkpoint.open(folder + "/k.safetensors"))
        #expect(tensors.info("lora_unet_a.alpha")?.dtype == .bf16 && tensors.info("lora_unet_b.alpha")?.dtype == .f32)
        #expect(try tensors.values("lora_unet_b.alpha") == [Double(Float(12.3))])
        output.useRSLoRA = true
        try AdapterOutputWriter.write(output, layout: .kohya, to: folder + "/r.safetensors", overwrite: false)
        let rs = try Adapter.load(path: folder + "/r.safetensors")
        #expect(rs.deltas.first { $0.module == "lora_unet_a" }?.blocks.first?.scale == 16.0 / 2)  // α/√r = 16/√4
        #expect(rs.deltas.first { $0.module == "lora_unet_b" }?.blocks.first?.scale == Double(Float(12.3 * 2)) / 4)
    }

    /// kohya names go back to Hugging Face paths for every Llama module (with or without a lora_*_
    /// prefix); an unknown flattened name is refused, naming it.
    @Test func kohyaNamesUnflatten() throws {
        let renaming = ModuleRenaming(from: .kohya, to: .huggingFace, config: nil, path: "out")
        for module in ["model.layers.11.self_attn.q_proj", "model.layers.0.mlp.down_proj", "model.embed_tokens", "lm_head"] {
            let flat = String(module.map { $0 == "." ? "_" : $0 })
            #expect(try renaming.huggingFacePath("lora_unet_" + flat) == module)
            #expect(try renaming.huggingFacePath(flat) == module)
        }
        #expect(try renaming.huggingFacePath("lora_layers_3_self_attn_o_proj") == "model.layers.3.self_attn.o_proj")
        #expect(throws: LowRankEditError.self) { try renaming.huggingFacePath("lora_unet_down_blocks_0_attentions_0_proj_in") }
        #expect(throws: LowRankEditError.self) { try renaming.huggingFacePath("lora_unet_model_layers_x1_mlp_up_proj") }
    }

    /// An embedding LoRA survives kohya's plain-product form: PEFT → kohya → PEFT gives the same bits.
    @Test func embeddingThroughKohyaIsExact() throws {
        let adapter = try Adapter.load(path: Self.gguf + "/peft_lora")
        let folder = try RankFixtures.temporaryFolder("kohya-embedding")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AdapterOutputWriter.write(unchangedOutput(adapter), layout: .kohya, to: folder + "/k.safetensors", overwrite: false)
        let kohya = try Adapter.load(path: folder + "/k.safetensors")
        try AdapterOutputWriter.write(unchangedOutput(kohya), layout: .peft, to: folder + "/back", overwrite: false)
        let back = try Adapter.load(path: folder + "/back")
        #expect(back.deltas.count == adapter.deltas.count)
        for original in adapter.deltas {
            let again = try #require(back.deltas.first { $0.module == original.module }, "\(original.module)")
            #expect(again.kind == original.kind && again.blocks[0].scale == original.blocks[0].scale, "\(original.module)")
            #expect(again.blocks[0].a.elements == original.blocks[0].a.elements && again.blocks[0].b.elements == original.blocks[0].b.elements, "\(original.module)")
        }
    }

    /// What a layout cannot hold is refused with the module's name and the layout that can.
    @Test func inexpressibleModulesAreRefusedByName() throws {
        func message(_ output: LoRAOutput, _ layout: AdapterFormat, _ path: String, config: LlamaConfig? = nil,
                     architecture: GGUFArchitectureSource? = Self.llama) -> String {
            do {
                try AdapterOutputWriter.write(output, layout: layout, to: path, options: .init(llamaConfig: config, architecture: architecture), overwrite: false)
                return ""
            } catch {
                return "\(error)"
            }
        }
        let folder = try RankFixtures.temporaryFolder("refusals")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let q = LoRAOutput.Module(module: "model.layers.0.self_attn.q_proj", kind: .linear, kernel: [], b: Matrix(rows: 32, columns: 2), a: Matrix(rows: 2, columns: 32), alpha: 2)
        var biased = q
        biased.bias = Array(repeating: 0, count: 32)
        #expect(message(LoRAOutput(modules: [biased], dtype: .f32), .kohya, folder + "/b.safetensors").contains("'model.layers.0.self_attn.q_proj' has a lora_B.bias"))
        #expect(message(LoRAOutput(modules: [q], dtype: .f32), .gguf, folder + "/q.gguf").contains("rotary projection whose rows llama.cpp's converter permutes per head (llama only): pass --base-config"))
        #expect(message(LoRAOutput(modules: [q], dtype: .f32), .gguf, folder + "/q.gguf", architecture: nil).contains("cannot tell which llama.cpp architecture"))
        // qwen2 needs no head counts: Q is written as it is, named by qwen2's table.
        #expect(message(LoRAOutput(modules: [q], dtype: .f32), .gguf, folder + "/q2.gguf", architecture: GGUFArchitectureSource(architecture: "qwen2", evidence: "test")) == "")
        let written = try Checkpoint.open(folder + "/q2.gguf")
        #expect(written.tensors.map(\.name) == ["blk.0.attn_q.weight.lora_a", "blk.0.attn_q.weight.lora_b"] && written.metadata.gguf?["general.architecture"]?.text == "qwen2")
        try FileManager.default.removeItem(atPath: folder + "/q2.gguf")
        let conv = LoRAOutput.Module(module: "model.layers.0.mlp.up_proj", kind: .convolution, kernel: [3, 3], b: Matrix(rows: 4, columns: 1), a: Matrix(rows: 1, columns: 18), alpha: 1)
        #expect(message(LoRAOutput(modules: [conv], dtype: .f32), .gguf, folder + "/c.gguf").contains("convolution update"))
        let unknown = LoRAOutput.Module(module: "encoder.block.0.attention.q", kind: .linear, kernel: [], b: Matrix(rows: 4, columns: 1), a: Matrix(rows: 1, columns: 4), alpha: 1)
        #expect(message(LoRAOutput(modules: [unknown], dtype: .f32), .gguf, folder + "/u.gguf").contains("'encoder.block.0.attention.q' has no llama.cpp tensor name"))
        var saved = LoRAOutput(modules: [q], dtype: .f32)
        saved.wholeTensors = [(name: "base_model.model.model.norm.weight", shape: [32], values: Array(repeating: 1, count: 32))]
        #expect(message(saved, .kohya, folder + "/s.safetensors").contains("'base_model.model.model.norm.weight' is saved whole"))
        #expect(message(LoRAOutput(modules: [q], dtype: .f32), .melora, folder + "/m").contains("ckpt melora --splits"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}
