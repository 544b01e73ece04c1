import Foundation
import Testing

/// `ckpt verify MERGED --against BASE ADAPTER…`: a merge ckpt made passes with the very numbers a
/// numpy float64 reference computes (fixtures/surgery/verify_reference.py); one changed element, or
/// the wrong adapter, fails naming the tensor and the row.
@Suite struct VerifyAgainstCLITests {
    static let surgery = repositoryFixtures + "/surgery"

    static let python = pythonImporting("safetensors, numpy, ml_dtypes")
    static var enabled: Bool { python != nil || ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    private func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// The changed tensors of a `--json` report, by name.
    private func changed(_ run: Run) throws -> [String: [String: Any]] {
        let against = try #require(try object(run.stdout)["against"] as? [String: Any])
        let tensors = try #require(against["changed_tensors"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as! String, $0) })
    }

    private func merged(_ base: String, _ adapter: String, weight: String, into folder: String) throws -> String {
        let output = folder + "/\(adapter)-\(base).safetensors"
        let run = try ckpt(["merge", Self.surgery + "/" + base, Self.surgery + "/" + adapter, "-o", output, "--weight", weight, "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        return output
    }

    @Test(.enabled(if: enabled, "no Python with safetensors, numpy and ml_dtypes: set CKPT_PYTHON"),
          arguments: [("llama-bf16", "lora", "1"), ("llama-f32", "dora", "0.5")])
    func correctMergePassesWithTheReferenceNumbers(_ base: String, _ adapter: String, _ weight: String) throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no Python with safetensors (set CKPT_PYTHON)")
        let folder = try temporaryFolder("verify-against")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = try merged(base, adapter, weight: weight, into: folder)
        let run = try ckpt(["verify", output, "--against", Self.surgery + "/" + base, Self.surgery + "/" + adapter, "--weight", weight, "--all", "--json"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let ours = try changed(run)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.surgery + "/verify_reference.py", Self.surgery + "/\(base)/model.safetensors", Self.surgery + "/" + adapter, output, weight]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let reference = try #require(try JSONSerialization.jsonObject(with: text) as? [String: [String: Double]])
        #expect(Set(ours.keys) == Set(reference.keys))
        for (name, expected) in reference {
            let tensor = try #require(ours[name])
            #expect(tensor["max_error"] as? Double == expected["max_error"], "\(name)")
            #expect(tensor["max_abs_error"] as? Double == expected["max_abs_error"], "\(name)")
            #expect(tensor["ok"] as? Bool == true, "\(name)")
            #expect(tensor["unit"] as? String == "ulp")
        }
        // A correctly rounded bf16 result is within half an ulp of the float64 value (plus what the
        // Float32 delta loses); f32 DoRA within 4.
        let worst = ours.values.compactMap { $0["max_error"] as? Double }.max() ?? .infinity
        #expect(worst <= (base.hasSuffix("bf16") ? 0.5 + 1.0 / 64 : 4))
    }

    /// One bf16 element changed by a test (its exponent bumped) is found with --all, named with its row.
    @Test func tamperedElementFailsNamingTensorAndRow() throws {
        let folder = try temporaryFolder("verify-tamper")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = try merged("llama-bf16", "lora", weight: "1", into: folder)
        let clean = try ckpt(["verify", output, "--against", Self.surgery + "/llama-bf16", Self.surgery + "/lora", "--all"])
        #expect(clean.status == 0, "\(clean.stdout)")
        // Element (5, 7) of the 32×32 bf16 tensor: its high byte holds the sign and 7 exponent bits.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: output))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try object(String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self))
        let entry = try #require(header["model.layers.1.self_attn.q_proj.weight"] as? [String: Any])
        let start = try #require((entry["data_offsets"] as? [Int])?.first)
        var tampered = bytes
        tampered[8 + headerLength + start + (5 * 32 + 7) * 2 + 1] ^= 0x01
        try tampered.write(to: URL(fileURLWithPath: output))

        let run = try ckpt(["verify", output, "--against", Self.surgery + "/llama-bf16", Self.surgery + "/lora", "--all"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("mismatch     model.layers.1.self_attn.q_proj.weight: row 5, column 7: "), "\(run.stdout)")
        let problems = run.stdout.split(separator: "\n").filter { $0.contains("mismatch") }
        #expect(problems.count == 1)
        let json = try ckpt(["verify", output, "--against", Self.surgery + "/llama-bf16", Self.surgery + "/lora", "--all", "--json"])
        let tensor = try #require(try changed(json)["model.layers.1.self_attn.q_proj.weight"])
        #expect(tensor["ok"] as? Bool == false)
        #expect(tensor["worst_row"] as? Int == 5)
        #expect(tensor["worst_column"] as? Int == 7)
        #expect(try object(json.stdout)["ok"] as? Bool == false)
    }

    /// Verifying against an adapter the file was not merged with: the tensors the two adapters change
    /// differently fail, and so do those the wrong adapter leaves alone but the merge changed.
    @Test func wrongAdapterFails() throws {
        let folder = try temporaryFolder("verify-wrong")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = try merged("llama-bf16", "lora", weight: "1", into: folder)
        let run = try ckpt(["verify", output, "--against", Self.surgery + "/llama-bf16", Self.surgery + "/rslora", "--all"])
        #expect(run.status == 1)
        #expect(run.stdout.contains("mismatch     model.layers.0.self_attn.q_proj.weight: row "), "\(run.stdout)")
        #expect(run.stdout.contains("mismatch     model.layers.0.mlp.down_proj.weight: row 0 differs from the base, and no adapter changes this tensor"))
        // The right weight matters too.
        let weighted = try ckpt(["verify", output, "--against", Self.surgery + "/llama-bf16", Self.surgery + "/lora", "--weight", "0.9"])
        #expect(weighted.status == 1)
    }

    /// A quantized GGUF merge (Q4_K requantized, Q2_K written as f16 with --requant-fallback) passes;
    /// Q4_K is compared in quantization steps against the requantized reference.
    @Test func quantizedMergePasses() throws {
        let folder = try temporaryFolder("verify-quantized")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let gguf = repositoryFixtures + "/surgery-gguf"
        let output = folder + "/merged.gguf"
        #expect(try ckpt(["merge", gguf + "/quant_base.gguf", gguf + "/quant_lora.gguf", "-o", output, "--requant-fallback", "f16", "--quiet"]).status == 0)
        let run = try ckpt(["verify", output, "--against", gguf + "/quant_base.gguf", gguf + "/quant_lora.gguf", "--requant-fallback", "f16", "--all", "--json"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let tensors = try changed(run)
        #expect(tensors["blk.0.attn_v.weight"]?["unit"] as? String == "step")
        #expect(tensors["blk.0.attn_v.weight"]?["dtype"] as? String == "q4_k")
        #expect(tensors["blk.0.ffn_up.weight"]?["unit"] as? String == "ulp")
        #expect((tensors["blk.0.ffn_up.weight"]?["max_error"] as? Double ?? 1) <= 0.5 + 1.0 / 512)
    }

    /// A Q8_0 llama GGUF base with a GGUF LoRA (both converted from the fixtures): the 14 requantized
    /// tensors pass in steps of their blocks; the unmerged base, checked as if merged, fails.
    @Test func q8MergePassesAndUnmergedBaseFails() throws {
        let (work, base, adapter, merged) = try GGUFMergeCLITests.q8Merge("verify-q8")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let run = try ckpt(["verify", merged, "--against", base, adapter, "--all", "--json"])
        #expect(run.status == 0, "\(run.stdout)")
        let tensors = try changed(run)
        #expect(tensors.count == 14)
        for (name, tensor) in tensors {
            #expect(tensor["dtype"] as? String == "q8_0", "\(name)")
            #expect(tensor["unit"] as? String == "step")
            #expect((tensor["max_error"] as? Double ?? 2) <= 1, "\(name)")
        }
        let unmerged = try ckpt(["verify", base, "--against", base, adapter])
        #expect(unmerged.status == 1)
        #expect(unmerged.stdout.contains("mismatch     blk.0.attn_q.weight: row "), "\(unmerged.stdout)")
    }

    /// The other adapter kinds and layouts go through the same plan: kohya (DoRA along either axis,
    /// the per-input one through column norms), MELoRA blocks (both layouts), GPT-2 Conv1D with
    /// lora_B.bias, an embedding LoRA with modules_to_save, convolutions. Each ckpt merge passes with
    /// every row checked (f32 limit 4 ulps); a wrong MELoRA scale fails.
    @Test(arguments: [("llama-f32", "kohya.safetensors", [String](), 4), ("llama-f32", "melora-mytransformers.safetensors", ["--melora-scale", "0.75"], 2),
                      ("llama-f32", "melora-peft", [], 2), ("gpt2-f32", "gpt2-fan-in-fan-out", [], 8), ("llama-f32", "embedding", [], 4),
                      ("conv-f32.safetensors", "conv", [], 2)])
    func otherAdapterKindsPass(_ base: String, _ adapter: String, _ options: [String], _ changedCount: Int) throws {
        let folder = try temporaryFolder("verify-kinds")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/merged.safetensors"
        let (basePath, adapterPath) = (Self.surgery + "/" + base, Self.surgery + "/" + adapter)
        #expect(try ckpt(["merge", basePath, adapterPath, "-o", output, "--quiet"] + options).status == 0)
        let run = try ckpt(["verify", output, "--against", basePath, adapterPath, "--all", "--json"] + options)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let tensors = try changed(run)
        #expect(tensors.count == changedCount)
        for (name, tensor) in tensors { #expect((tensor["max_error"] as? Double ?? 5) <= 4, "\(name)") }
        if adapter.hasPrefix("melora-mytransformers") {
            #expect(try ckpt(["verify", output, "--against", basePath, adapterPath, "--melora-scale", "0.7"]).status == 1)
        }
    }

    /// A merge made with --untie is checked with --untie (the separate lm_head.weight recomputed from
    /// the tied embedding); without it the extra tensor is named with the hint.
    @Test func untiedMergeNeedsUntie() throws {
        let folder = try temporaryFolder("verify-untie")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/merged.safetensors"
        let (base, adapter) = (Self.surgery + "/llama-tied", Self.surgery + "/tied-lm-head")
        #expect(try ckpt(["merge", base, adapter, "-o", output, "--untie", "--quiet"]).status == 0)
        let untied = try ckpt(["verify", output, "--against", base, adapter, "--untie", "--all", "--json"])
        #expect(untied.status == 0, "\(untied.stdout)\(untied.stderr)")
        #expect(try changed(untied)["lm_head.weight"]?["ok"] as? Bool == true)
        let run = try ckpt(["verify", output, "--against", base, adapter])
        #expect(run.status != 0)
        #expect((run.stdout + run.stderr).contains("--untie"), "\(run.stdout)\(run.stderr)")
    }

    @Test func againstNeedsBaseAndAdapter() throws {
        let run = try ckpt(["verify", Self.surgery + "/lora.peft-merged-bf16.safetensors", "--against", Self.surgery + "/llama-bf16"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("--against needs BASE and at least one ADAPTER"))
    }
}
