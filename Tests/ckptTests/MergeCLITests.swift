import Testing
import Foundation

/// `ckpt merge` / `ckpt unmerge` from the command line: outputs, reports, exit codes.
@Suite struct MergeCLITests {
    let surgery = repositoryFixtures + "/surgery"

    @Test func mergeReportsAndUnmergeRestoresExactly() throws {
        let folder = try temporaryFolder("merge")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let merged = folder + "/merged.safetensors", residual = folder + "/merged.residual.safetensors"
        let run = try ckpt(["merge", surgery + "/llama-bf16", surgery + "/lora", "-o", merged, "--residual", residual, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        #expect(tensors.count == 14)
        #expect(tensors.allSatisfy { ($0["relative_change"] as? Double ?? 0) > 0 && $0["rank"] as? Int == 4 })
        let restored = folder + "/restored.safetensors"
        let back = try ckpt(["unmerge", merged, surgery + "/lora", "-o", restored, "--residual", residual, "--report"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.stdout.contains("model.layers.0.self_attn.q_proj.weight\tlinear\t4\t"))
        #expect(FileManager.default.contentsEqual(atPath: restored, andPath: surgery + "/llama-bf16/model.safetensors"))
        // An existing output needs --force (usage error), and is left alone.
        #expect(try ckpt(["merge", surgery + "/llama-bf16", surgery + "/lora", "-o", merged, "--quiet"]).status == 2)
    }

    @Test func dryRunPrintsThePlanAndWritesNothing() throws {
        let folder = try temporaryFolder("dry")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let out = folder + "/out.safetensors"
        let run = try ckpt(["merge", surgery + "/llama-f32", surgery + "/patterns", "-o", out, "--dry-run", "--json", "--residual", folder + "/r.safetensors"])
        #expect(run.status == 0, "\(run.stderr)")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect((plan["peak_memory_bytes"] as? Int ?? 0) > 0)
        #expect((plan["output_bytes"] as? Int ?? 0) == 90_752)
        #expect((plan["residual_bytes"] as? Int ?? 0) > 0)
        let text = try ckpt(["merge", surgery + "/llama-f32", surgery + "/patterns", "-o", out, "--dry-run"])
        #expect(text.stdout.contains("model.layers.0.self_attn.o_proj.weight f32 [32, 32]: adapter 0 linear r=4 scale=0.125000"))
        #expect(text.stdout.contains("model.layers.1.mlp.down_proj.weight f32 [32, 64]: adapter 0 linear r=6 scale=1.333333"))
        #expect(text.stdout.contains("estimates: peak memory"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func errorsHaveTheirExitCodes() throws {
        let folder = try temporaryFolder("errors")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let out = folder + "/out.safetensors"
        let unmatched = try ckpt(["merge", surgery + "/gpt2-f32", surgery + "/lora", "-o", out])
        #expect(unmatched.status == 3)
        #expect(unmatched.stderr.contains("matches no tensor of the base") && unmatched.stderr.contains("--ignore-unmatched"))
        let tied = try ckpt(["merge", surgery + "/llama-tied", surgery + "/tied-lm-head", "-o", out])
        #expect(tied.status == 3 && tied.stderr.contains("--untie"))
        #expect(try ckpt(["merge", surgery + "/llama-f32", surgery + "/lora", "-o", out, "--weight", "1", "--weight", "2"]).status == 2)
        #expect(try ckpt(["merge", surgery + "/llama-f32", surgery + "/lora", "-o", out, "--adapter-format", "lycoris"]).status == 2)
        let melora = try ckpt(["merge", surgery + "/llama-f32", surgery + "/melora-mytransformers.safetensors", "-o", out])
        #expect(melora.status == 3 && melora.stderr.contains("--melora-scale"))
        #expect(!FileManager.default.fileExists(atPath: out))
        let skipped = try ckpt(["merge", surgery + "/gpt2-f32", surgery + "/lora", "-o", out, "--ignore-unmatched"])
        #expect(skipped.status == 0 && skipped.stderr.contains("skipped:"))
    }
}
