import Testing
import Foundation
import CheckpointCore
@testable import CheckpointSurgery

/// merge → unmerge with the residual file gives the base back byte for byte, for every adapter kind
/// of the fixtures (LoRA, rsLoRA, patterns, DoRA, embedding + saved layer, fan_in_fan_out + bias,
/// two weighted adapters, a tied base with --untie), in f32 and bf16.
@Suite struct UnmergeTests {
    static let cases: [(base: String, adapters: [String], weights: [Double]?, untie: Bool)] = [
        ("llama-f32", ["lora"], nil, false), ("llama-bf16", ["lora"], nil, false), ("llama-f16", ["lora", "kohya-llm.safetensors"], nil, false), ("llama-f32", ["rslora"], nil, false),
        ("llama-f32", ["patterns"], nil, false), ("llama-f32", ["dora"], nil, false), ("llama-bf16", ["dora"], nil, false),
        ("llama-f32", ["embedding"], nil, false), ("gpt2-f32", ["gpt2-fan-in-fan-out"], nil, false),
        ("llama-bf16", ["lora", "dora", "rslora"], [0.5, 1, -2], false), ("llama-tied", ["tied-lm-head"], nil, true),
        ("llama-f32", ["kohya.safetensors"], nil, false), ("llama-bf16", ["melora-peft"], nil, false),
        ("conv-f32.safetensors", ["conv"], nil, false),
    ]

    @Test(arguments: cases.indices)
    func residualRestoresTheBaseByteForByte(_ index: Int) throws {
        let c = Self.cases[index]
        let folder = try makeTemporaryFolder("unmerge")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let adapters = c.adapters.map(fixture)
        let residual = folder + "/residual.safetensors"
        let (merged, outcome) = try merge(base: fixture(c.base), adapters: adapters, weights: c.weights, options: .init(untie: c.untie), residual: residual, into: folder)
        #expect(!outcome.changes.isEmpty)
        let restored = folder + "/restored.safetensors"
        _ = try unmerge(merged: merged, adapters: adapters, weights: c.weights, residual: residual, into: restored)
        let basePath = c.base.hasSuffix(".safetensors") ? fixture(c.base) : fixture(c.base + "/model.safetensors")
        let original = try Data(contentsOf: URL(fileURLWithPath: basePath))
        #expect(try Data(contentsOf: URL(fileURLWithPath: merged)) != original)
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored)) == original, "\(c.base) + \(c.adapters)")
    }

    @Test func residualIsMostlyZeros() throws {
        let folder = try makeTemporaryFolder("residual")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let residual = folder + "/residual.safetensors"
        _ = try merge(base: fixture("llama-bf16"), adapters: [fixture("lora")], residual: residual, into: folder)
        let loaded = try LoadedTensors(residual)
        var zeros = 0, total = 0
        for (name, bytes) in loaded.raw where name.hasPrefix("residual.") {
            #expect(loaded.infos[name]?.dtype == .i16)
            for j in stride(from: 0, to: bytes.count, by: 2) { total += 1; if bytes[j] == 0 && bytes[j + 1] == 0 { zeros += 1 } }
        }
        #expect(total > 0)
        #expect(Double(zeros) / Double(total) > 0.5, "\(zeros) of \(total)")
    }

    @Test func withoutResidualUnmergeIsCloseAndDoRAIsRefused() throws {
        let folder = try makeTemporaryFolder("approx")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (merged, _) = try merge(base: fixture("llama-f32"), adapters: [fixture("lora")], into: folder)
        let restored = folder + "/approx.safetensors"
        _ = try unmerge(merged: merged, adapters: [fixture("lora")], residual: nil, into: restored)
        let base = try LoadedTensors(fixture("llama-f32")), result = try LoadedTensors(restored)
        var worst = 0.0
        for (name, values) in base.values {
            let back = try result(name)
            for j in values.indices { worst = max(worst, abs(back[j] - values[j])) }
        }
        #expect(worst > 0 && worst < 1e-5)
        let (doraMerged, _) = try merge(base: fixture("llama-f32"), adapters: [fixture("dora")], into: folder, name: "dora.safetensors")
        #expect(throws: SurgeryError.self) { try unmerge(merged: doraMerged, adapters: [fixture("dora")], residual: nil, into: folder + "/x.safetensors") }
        #expect(!FileManager.default.fileExists(atPath: folder + "/x.safetensors"))
    }

    @Test func residualOfAnotherMergeIsRefused() throws {
        let folder = try makeTemporaryFolder("mismatch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let residual = folder + "/residual.safetensors"
        let (merged, _) = try merge(base: fixture("llama-f32"), adapters: [fixture("lora")], weights: [0.5], residual: residual, into: folder)
        #expect { try unmerge(merged: merged, adapters: [fixture("lora")], weights: [1], residual: residual, into: folder + "/x.safetensors") } throws: { error in
            "\(error)".contains("same --weight")
        }
        #expect { try unmerge(merged: merged, adapters: [fixture("lora"), fixture("rslora")], weights: [0.5, 1], residual: residual, into: folder + "/x.safetensors") } throws: { error in
            "\(error)".contains("adapters of the merge")
        }
        #expect { try unmerge(merged: merged, adapters: [fixture("lora")], weights: [0.5], residual: fixture("llama-f32/model.safetensors"), into: folder + "/x.safetensors") } throws: { error in
            "\(error)".contains("not a residual file")
        }
    }
}

/// The fused C path (one plain LoRA per tensor) and the general path (several steps) share their
/// arithmetic: adding a second adapter with weight 0 sends every tensor through the general path and
/// must not change a single bit, in f32 and bf16 (where the round-to-odd step matters).
@Suite struct FusedPathTests {
    @Test(arguments: ["llama-f32", "llama-bf16"])
    func fusedAndGeneralPathsAgreeBitForBit(_ base: String) throws {
        let folder = try makeTemporaryFolder("fused")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (fused, _) = try merge(base: fixture(base), adapters: [fixture("lora")], into: folder, name: "fused.safetensors")
        let (general, _) = try merge(base: fixture(base), adapters: [fixture("lora"), fixture("rslora")], weights: [1, 0], into: folder, name: "general.safetensors")
        #expect(try Data(contentsOf: URL(fileURLWithPath: fused)) == Data(contentsOf: URL(fileURLWithPath: general)))
    }
}

@Suite struct ShardedMergeTests {
    /// A sharded output (folder + index) is merged, read back for the residual, and restored exactly.
    @Test func shardedOutputRoundTrips() throws {
        let folder = try makeTemporaryFolder("sharded")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let adapter = try Adapter.load(path: fixture("lora"))
        let job = try MergeJob(basePath: fixture("llama-bf16"), adapters: [adapter], weights: [1], options: .init())
        let residual = folder + "/residual.safetensors"
        let outcome = try job.run(to: .shardedSafetensors(folder: folder + "/merged", prefix: "model", maxShardSize: 40_000), overwrite: false, residual: .safetensors(path: residual))
        #expect(outcome.outputs.count == 3)
        _ = try unmerge(merged: folder + "/merged", adapters: [fixture("lora")], residual: residual, into: folder + "/restored.safetensors")
        #expect(FileManager.default.contentsEqual(atPath: folder + "/restored.safetensors", andPath: fixture("llama-bf16/model.safetensors")))
    }
}

@Suite struct PickledAdapterTests {
    /// The `lora` adapter as PEFT writes it with safe_serialization=False (adapter_model.bin, a torch
    /// zip read without running its pickle) merges to the same bytes as its safetensors twin.
    @Test func adapterModelBinMergesLikeSafetensors() throws {
        let folder = try makeTemporaryFolder("bin-adapter")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let adapter = try Adapter.load(path: fixture("lora-bin"))
        #expect(adapter.format == .peft && adapter.deltas.count == 14)
        let (bin, _) = try merge(base: fixture("llama-bf16"), adapters: [fixture("lora-bin")], into: folder, name: "bin.safetensors")
        let (safetensors, _) = try merge(base: fixture("llama-bf16"), adapters: [fixture("lora")], into: folder, name: "st.safetensors")
        #expect(FileManager.default.contentsEqual(atPath: bin, andPath: safetensors))
    }
}
