import Testing
import Foundation

/// GGUF LoRA adapters of the architectures other than llama (qwen2, qwen3, gemma, gemma2): written by resize and
/// convert with the architecture's llama.cpp names and `general.architecture`, read back, and merged
/// into Hugging Face and GGUF bases exactly like the PEFT adapters they came from. The fixtures are
/// tiny transformers models with PEFT LoRAs and the same adapters written by gguf-py in
/// convert_lora_to_gguf.py's layout (`fixtures/surgery-gguf/make_fixtures.py`).
@Suite struct GGUFArchitectureAdapterCLITests {
    static let fixtures = repositoryFixtures + "/surgery-gguf"
    static let architectures = ["qwen2", "qwen3", "gemma", "gemma2"]

    static func run(_ arguments: [String]) throws -> Run {
        let result = try ckpt(arguments + ["--force"])
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        return result
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// The tensors of any checkpoint ckpt reads, as safetensors bytes by name (GGUF converted plainly).
    static func tensors(_ path: String, in work: String) throws -> [String: (dtype: String, bytes: Data)] {
        guard !path.hasSuffix(".safetensors") else { return try safetensorsTensors(path) }
        let target = work + "/tensors-\(UUID().uuidString).safetensors"
        _ = try run(["convert", path, target, "--quiet"])
        return try safetensorsTensors(target)
    }

    static func sameTensors(_ a: [String: (dtype: String, bytes: Data)], _ b: [String: (dtype: String, bytes: Data)], _ label: String) {
        #expect(a.keys.sorted() == b.keys.sorted(), "\(label): names differ")
        for (name, tensor) in a {
            #expect(tensor.dtype == b[name]?.dtype && tensor.bytes == b[name]?.bytes, "\(label): \(name) differs")
        }
    }

    /// `resize --to gguf` takes the architecture from --base-config (the config.json folder or the GGUF
    /// base) or from the PEFT adapter's own auto_mapping, all giving the same file: `general.architecture`
    /// of the model, gguf-py's tensor names, and lora_a / lora_b equal to the PEFT output's A / B
    /// (no Q/K permutation outside llama). GGUF → PEFT (convert, names mapped back) gives the PEFT
    /// output's factors bit for bit.
    @Test(arguments: architectures)
    func resizeWritesTheArchitecturesAdapter(architecture: String) throws {
        let work = try temporaryFolder("gguf-arch-resize")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let adapter = Self.fixtures + "/\(architecture)-lora", base = Self.fixtures + "/" + architecture
        _ = try Self.run(["resize", adapter, "-o", work + "/peft", "--rank", "3"])
        _ = try Self.run(["resize", adapter, "-o", work + "/folder.gguf", "--rank", "3", "--to", "gguf", "--base-config", base])
        _ = try Self.run(["resize", adapter, "-o", work + "/gguf.gguf", "--rank", "3", "--to", "gguf", "--base-config", base + ".gguf"])
        _ = try Self.run(["resize", adapter, "-o", work + "/own.gguf", "--rank", "3", "--to", "gguf"])
        let written = try #require(Self.bytes(work + "/folder.gguf"))
        #expect(Self.bytes(work + "/gguf.gguf") == written && Self.bytes(work + "/own.gguf") == written)
        let inspect = try ckpt(["inspect", work + "/folder.gguf"])
        #expect(inspect.stdout.contains("general.architecture         STRING         \"\(architecture)\""), "\(inspect.stdout)")

        let peft = try Self.tensors(work + "/peft/adapter_model.safetensors", in: work)
        let gguf = try Self.tensors(work + "/folder.gguf", in: work)
        #expect(gguf.count == 28 && peft.count == 28)
        #expect(gguf["blk.1.attn_q.weight.lora_b"]?.bytes == peft["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"]?.bytes, "Q rows must not be permuted")
        #expect(gguf["blk.0.ffn_down.weight.lora_a"]?.bytes == peft["base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"]?.bytes)

        _ = try Self.run(["convert", work + "/folder.gguf", work + "/back/", "--arch", architecture])
        Self.sameTensors(try Self.tensors(work + "/back/adapter_model.safetensors", in: work), peft, "\(architecture) GGUF → PEFT")
    }

    /// `convert --arch ARCH` of the PEFT fixture writes the tensors gguf-py wrote in convert_lora_to_gguf.py's
    /// layout (same names, dtypes and bytes), and converting that back gives the PEFT factors bit for bit.
    @Test(arguments: architectures)
    func peftToGGUFToPEFTIsBitIdentical(architecture: String) throws {
        let work = try temporaryFolder("gguf-arch-convert")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let adapter = Self.fixtures + "/\(architecture)-lora"
        _ = try Self.run(["convert", adapter, work + "/a.gguf", "--arch", architecture])
        Self.sameTensors(try Self.tensors(work + "/a.gguf", in: work), try Self.tensors(adapter + ".gguf", in: work), "\(architecture): ckpt vs gguf-py")
        _ = try Self.run(["convert", work + "/a.gguf", work + "/back/", "--arch", architecture])
        Self.sameTensors(try safetensorsTensors(work + "/back/adapter_model.safetensors"), try safetensorsTensors(adapter + "/adapter_model.safetensors"), "\(architecture) PEFT → GGUF → PEFT")
        // The gguf-py file converts back to the same factors too.
        _ = try Self.run(["convert", adapter + ".gguf", work + "/from-py/", "--arch", architecture])
        Self.sameTensors(try safetensorsTensors(work + "/from-py/adapter_model.safetensors"), try safetensorsTensors(adapter + "/adapter_model.safetensors"), "\(architecture) gguf-py → PEFT")
    }

    /// The gguf-py GGUF adapter merged into the Hugging Face base (names mapped back through the
    /// architecture's table) and into the GGUF base gives the bytes of merging the PEFT adapter; ckpt's
    /// own `--to gguf` output of a resize merges like the same resize written as PEFT. Unmerge with the
    /// residual restores the HF base bit for bit.
    @Test(arguments: architectures)
    func ggufAdapterMergesLikeThePEFTAdapter(architecture: String) throws {
        let work = try temporaryFolder("gguf-arch-merge")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let adapter = Self.fixtures + "/\(architecture)-lora", base = Self.fixtures + "/" + architecture
        _ = try Self.run(["resize", adapter, "-o", work + "/ours.gguf", "--rank", "3", "--to", "gguf"])
        _ = try Self.run(["resize", adapter, "-o", work + "/ours-peft", "--rank", "3"])
        for (target, suffix) in [(base, ".safetensors"), (base + ".gguf", ".gguf")] {
            _ = try Self.run(["merge", target, adapter, "-o", work + "/peft" + suffix, "--quiet"])
            let reference = try #require(Self.bytes(work + "/peft" + suffix))
            let merged = try Self.run(["merge", target, adapter + ".gguf", "-o", work + "/gguf" + suffix])
            #expect(Self.bytes(work + "/gguf" + suffix) == reference, "\(architecture): gguf-py adapter into \(target)")
            if suffix == ".safetensors" {
                #expect(merged.stderr.contains("module names mapped back to Hugging Face's (\(architecture), gguf-py tensor map)"), "\(merged.stderr)")
                #expect(!merged.stderr.contains("Q/K"))
            }
            _ = try Self.run(["merge", target, work + "/ours.gguf", "-o", work + "/ours" + suffix, "--quiet"])
            _ = try Self.run(["merge", target, work + "/ours-peft", "-o", work + "/ours-peft" + suffix, "--quiet"])
            let ours = try #require(Self.bytes(work + "/ours" + suffix))
            #expect(ours == Self.bytes(work + "/ours-peft" + suffix) && ours != reference, "\(architecture): ckpt's GGUF adapter into \(target)")
        }
        _ = try Self.run(["merge", base, adapter + ".gguf", "-o", work + "/r.safetensors", "--residual", work + "/res.safetensors", "--quiet"])
        _ = try Self.run(["unmerge", work + "/r.safetensors", adapter + ".gguf", "-o", work + "/restored.safetensors", "--residual", work + "/res.safetensors", "--quiet"])
        Self.sameTensors(try safetensorsTensors(work + "/restored.safetensors"), try safetensorsTensors(base + "/model.safetensors"), "\(architecture) unmerge")
    }

    /// A llama GGUF adapter into the llama Hugging Face base: names mapped back and Q/K rows restored from
    /// llama.cpp's rotary order with the head counts of the base's config.json — the same bytes as the
    /// PEFT adapter (the gguf fixture's adapter, made by gguf-py with the permutation).
    @Test func llamaAdapterIntoHuggingFaceBase() throws {
        let work = try temporaryFolder("gguf-arch-llama")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let gguf = repositoryFixtures + "/gguf"
        _ = try Self.run(["merge", gguf + "/hf_llama", gguf + "/peft_lora", "-o", work + "/peft.safetensors", "--quiet"])
        let run = try Self.run(["merge", gguf + "/hf_llama", gguf + "/peft_lora.gguf", "-o", work + "/gguf.safetensors"])
        #expect(run.stderr.contains("B rows of 4 Q/K module(s) restored from llama.cpp's rotary order (4 heads, 2 KV heads)"), "\(run.stderr)")
        #expect(Self.bytes(work + "/gguf.safetensors") == Self.bytes(work + "/peft.safetensors"))
    }

    /// Refusals: an architecture without a name table (named, with the supported list), adapters whose
    /// architecture differs from the base's (both named), nothing saying which architecture, and
    /// Gemma's lm_head; exit status 3 and no output.
    @Test func architectureRefusals() throws {
        let work = try temporaryFolder("gguf-arch-refusals")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let supported = "llama, qwen2, qwen3, gemma, gemma2"
        let melora = repositoryFixtures + "/surgery/melora-peft"
        func refused(_ arguments: [String], _ parts: [String], output: String) throws {
            let run = try ckpt(arguments)
            #expect(run.status == 3, "\(arguments): \(run.stderr)")
            for part in parts { #expect(run.stderr.contains(part), "\(arguments): '\(part)' not in \(run.stderr)") }
            #expect(!FileManager.default.fileExists(atPath: output), "\(output) was written")
        }
        try refused(["resize", melora, "-o", work + "/a.gguf", "--rank", "1", "--to", "gguf", "--base-config", Self.fixtures + "/phi3.gguf"],
                    ["a GGUF LoRA adapter: architecture 'phi3'", "general.architecture: phi3", "it maps " + supported], output: work + "/a.gguf")
        try refused(["resize", melora, "-o", work + "/b.gguf", "--rank", "1", "--to", "gguf"],
                    ["cannot tell which llama.cpp architecture", "--base-config", "ckpt maps " + supported], output: work + "/b.gguf")
        try refused(["resize", Self.fixtures + "/qwen2-lora", "-o", work + "/c.gguf", "--rank", "1", "--to", "gguf", "--base-config", Self.fixtures + "/gemma"],
                    ["architectures differ: gemma (from", "GemmaForCausalLM", "but qwen2 (from", "auto_mapping.base_model_class: Qwen2ForCausalLM"], output: work + "/c.gguf")
        try refused(["resize", Self.fixtures + "/qwen2-lora.gguf", "-o", work + "/d", "--rank", "1", "--to", "peft", "--base-config", Self.fixtures + "/qwen3.gguf"],
                    ["architectures differ: qwen3", "but qwen2 (from", "general.architecture: qwen2"], output: work + "/d")
        try refused(["merge", Self.fixtures + "/qwen3.gguf", Self.fixtures + "/qwen2-lora.gguf", "-o", work + "/e.gguf"],
                    ["architectures differ: qwen2", "qwen2-lora.gguf' (general.architecture: qwen2)", "but qwen3", "qwen3.gguf' (general.architecture: qwen3)"], output: work + "/e.gguf")
        try refused(["merge", Self.fixtures + "/gemma", Self.fixtures + "/qwen3-lora.gguf", "-o", work + "/f.safetensors"],
                    ["architectures differ: qwen3", "but gemma (from", "gemma/config.json' (architectures: GemmaForCausalLM)"], output: work + "/f.safetensors")
        try refused(["merge", Self.fixtures + "/qwen2.gguf", Self.fixtures + "/gemma-lora", "-o", work + "/g.gguf"],
                    ["architectures differ: gemma", "but qwen2"], output: work + "/g.gguf")
        try refused(["resize", Self.fixtures + "/gemma-lora-head", "-o", work + "/h.gguf", "--rank", "1", "--to", "gguf"],
                    ["module 'lm_head'", "gemma models have no output tensor", "--to peft"], output: work + "/h.gguf")
        try refused(["convert", Self.fixtures + "/qwen2-lora", work + "/i.gguf", "--arch", "qwen3"],
                    ["architectures differ: qwen3 (from --arch qwen3) but qwen2"], output: work + "/i.gguf")
        let usage = try ckpt(["convert", Self.fixtures + "/qwen2-lora", work + "/j.gguf", "--arch", "phi3"])
        #expect(usage.status == 2 && usage.stderr.contains("--arch 'phi3' is not one ckpt maps: " + supported + " (mistral as llama); whole models take --arch llama"), "\(usage.stderr)")
    }
}
