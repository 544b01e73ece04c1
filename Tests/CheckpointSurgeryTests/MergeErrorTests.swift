import Testing
import Foundation
import CheckpointCore
@testable import CheckpointSurgery

/// Wrong or refused inputs stop the merge with a typed error naming both sides, and write nothing.
@Suite struct MergeErrorTests {
    /// A PEFT folder with `config` and F32 factors for `modules` (name, out, in, B value).
    func peftFolder(_ folder: String, config: String, modules: [(String, Int, Int, Float)], rank: Int = 2) throws -> String {
        let path = folder + "/adapter-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try config.write(toFile: path + "/adapter_config.json", atomically: true, encoding: .utf8)
        var tensors: [(String, [Int], [Float])] = []
        for (module, out, inputs, value) in modules {
            tensors.append(("base_model.model.\(module).lora_A.weight", [rank, inputs], [Float](repeating: 10, count: rank * inputs)))
            tensors.append(("base_model.model.\(module).lora_B.weight", [out, rank], [Float](repeating: value, count: out * rank)))
        }
        try writeF32(path + "/adapter_model.safetensors", tensors)
        return path
    }

    @Test func unmatchedModulesNameBothSidesOrAreSkipped() throws {
        let folder = try makeTemporaryFolder("unmatched")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect { try merge(base: fixture("gpt2-f32"), adapters: [fixture("lora")], into: folder) } throws: { error in
            guard case let SurgeryError.unmatched(adapter, module, tried) = error else { return false }
            return adapter.hasSuffix("lora") && module.hasPrefix("model.layers.") && tried.contains { $0.hasSuffix(".weight") }
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/merged.safetensors"))
        let loaded = try Adapter.load(path: fixture("lora"))
        let job = try MergeJob(basePath: fixture("gpt2-f32"), adapters: [loaded], weights: [1], options: .init(ignoreUnmatched: true))
        #expect(job.plan.targets.isEmpty)
        #expect(job.plan.skipped.count == loaded.deltas.count)
    }

    @Test func shapeMismatchNamesBothShapes() throws {
        let folder = try makeTemporaryFolder("shape")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let adapter = try peftFolder(folder, config: #"{"peft_type": "LORA", "r": 2, "lora_alpha": 2}"#, modules: [("model.layers.0.self_attn.q_proj", 32, 48, 0.1)])
        #expect { try merge(base: fixture("llama-f32"), adapters: [adapter], into: folder) } throws: { error in
            guard case let SurgeryError.shapeMismatch(_, module, _, base, baseShape) = error else { return false }
            return module == "model.layers.0.self_attn.q_proj" && base == "model.layers.0.self_attn.q_proj.weight" && baseShape == [32, 32]
                && "\(error)".contains("[32, 48]")
        }
    }

    @Test func nonFiniteResultAbortsNamingTheModule() throws {
        let folder = try makeTemporaryFolder("nan")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let adapter = try peftFolder(folder, config: #"{"peft_type": "LORA", "r": 2, "lora_alpha": 2}"#, modules: [("model.layers.1.mlp.up_proj", 64, 32, 3e37)])
        #expect { try merge(base: fixture("llama-f32"), adapters: [adapter], into: folder) } throws: { error in
            guard case let SurgeryError.nonFinite(tensor, module, _) = error else { return false }
            return tensor == "model.layers.1.mlp.up_proj.weight" && module == "model.layers.1.mlp.up_proj"
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).allSatisfy { !$0.hasSuffix(".safetensors") || $0.hasPrefix("adapter") })
    }

    @Test(arguments: [
        (#""alora_invocation_tokens": [1, 2]"#, "aLoRA"), (#""init_lora_weights": "pissa_niter_4""#, "PiSSA"),
        (#""init_lora_weights": "olora""#, "OLoRA"), (#""init_lora_weights": "corda""#, "CorDA"),
        (#""target_parameters": ["experts.gate_up_proj"]"#, "target_parameters"), (#""peft_type": "LOHA""#, "LOHA"),
    ])
    func refusedAdapterKindsSayWhy(_ field: String, _ word: String) throws {
        let folder = try makeTemporaryFolder("refused")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let adapter = try peftFolder(folder, config: #"{"r": 2, "lora_alpha": 2, "#+field+"}", modules: [("model.layers.0.self_attn.q_proj", 32, 32, 0.1)])
        #expect { try Adapter.load(path: adapter) } throws: { "\($0)".contains(word) }
    }

    @Test func tiedEmbeddingsAreRefusedWithoutUntie() throws {
        let folder = try makeTemporaryFolder("tied")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect { try merge(base: fixture("llama-tied"), adapters: [fixture("tied-lm-head")], into: folder) } throws: { error in
            guard case let SurgeryError.tiedEmbeddings(_, module, shared, llamaCpp) = error, !llamaCpp else { return false }
            return module == "lm_head" && shared == "model.embed_tokens.weight" && "\(error)".contains("--untie")
        }
        let (path, _) = try merge(base: fixture("llama-tied"), adapters: [fixture("tied-lm-head")], options: .init(untie: true), into: folder)
        let merged = try LoadedTensors(path), base = try LoadedTensors(fixture("llama-tied"))
        #expect(try merged("model.embed_tokens.weight") == base("model.embed_tokens.weight"))
        let head = try merged("lm_head.weight"), embedding = try base("model.embed_tokens.weight")
        #expect(head != embedding && head.count == embedding.count)
    }

    @Test func twoAdaptersReplacingOneTensorConflict() throws {
        let folder = try makeTemporaryFolder("conflict")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect { try merge(base: fixture("llama-f32"), adapters: [fixture("embedding"), fixture("embedding")], into: folder) } throws: { error in
            if case SurgeryError.conflictingReplacement = error { return true }
            return false
        }
    }

    @Test func detectionNeedsTheConfigOfPEFTTensors() throws {
        let folder = try makeTemporaryFolder("detect")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Inside its PEFT folder the weights file is found with its config; alone it is not enough.
        #expect(try Adapter.load(path: fixture("lora/adapter_model.safetensors")).format == .peft)
        try FileManager.default.copyItem(atPath: fixture("lora/adapter_model.safetensors"), toPath: folder + "/lone.safetensors")
        #expect { try Adapter.load(path: folder + "/lone.safetensors") } throws: { "\($0)".contains("adapter_config.json") }
        #expect { try Adapter.load(path: fixture("llama-f32/model.safetensors")) } throws: { "\($0)".contains("not an adapter") }
        #expect(try Adapter.load(path: fixture("kohya.safetensors"), format: .kohya).deltas.count == 4)
    }

    @Test func patternKeysMatchTheEndOfTheModulePathAtADot() {
        let pattern: [(key: String, value: Int)] = [("q_proj", 1), ("layers.1.mlp.down_proj", 2), ("k_.*", 3)]
        #expect(PEFTConfig.firstMatch(pattern, module: "model.layers.0.self_attn.q_proj") == 1)
        #expect(PEFTConfig.firstMatch(pattern, module: "model.layers.1.mlp.down_proj") == 2)
        #expect(PEFTConfig.firstMatch(pattern, module: "model.layers.11.mlp.down_proj") == nil)
        #expect(PEFTConfig.firstMatch(pattern, module: "model.layers.0.self_attn.xq_proj") == nil)
        #expect(PEFTConfig.firstMatch(pattern, module: "model.layers.0.self_attn.k_proj") == 3)
        #expect(PEFTConfig.firstMatch([("proj", 1), ("q_proj", 2)], module: "a.q_proj") == 2)
        #expect(PEFTConfig.firstMatch([(".*proj", 1), ("q_proj", 2)], module: "a.q_proj") == 1)
    }

    /// A grid i-quant base tensor cannot be quantized back: the refusal names the way out, and for these
    /// types also llama-quantize; a K-quant's does not mention it.
    @Test func requantizationRefusalAdvisesLlamaQuantizeForGridTypes() {
        let grid = GGUFSurgeryError.cannotRequantize(tensor: "blk.0.ffn_gate.weight", dtype: .iq1M).description
        #expect(grid.contains("'blk.0.ffn_gate.weight' is IQ1_M") && grid.contains("--requant-fallback f16"))
        #expect(grid.contains("llama.cpp's llama-quantize --imatrix"))
        #expect(!GGUFSurgeryError.cannotRequantize(tensor: "w", dtype: .q2K).description.contains("llama-quantize"))
    }
}

@Suite struct LlamaCppBaseTests {
    /// A base with llama.cpp names that is not a GGUF file (no architecture to map the names and the
    /// Q/K permutation by) is refused clearly rather than reported as "unmatched".
    @Test func llamaCppNamedBaseIsRefused() throws {
        let folder = try makeTemporaryFolder("gguf-names")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let base = folder + "/base.safetensors"
        try writeF32(base, [("blk.0.attn_q.weight", [32, 32], [Float](repeating: 0.5, count: 1024)), ("token_embd.weight", [64, 32], [Float](repeating: 1, count: 2048))])
        #expect { try merge(base: base, adapters: [fixture("lora")], options: .init(ignoreUnmatched: true), into: folder) } throws: { error in
            guard case let SurgeryError.unsupported(_, what) = error else { return false }
            return what.contains("llama.cpp tensor names but no GGUF metadata")
        }
    }
}
