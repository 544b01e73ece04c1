import Testing
import Foundation

/// Adapters with Hugging Face names merged into GGUF bases of other architectures than llama, kohya
/// adapters into llama.cpp-named bases, and the refusals and notes around them.
@Suite struct GGUFArchitectureMergeCLITests {
    static let surgery = repositoryFixtures + "/surgery"
    static let fixtures = repositoryFixtures + "/surgery-gguf"

    /// Every element of a float64 safetensors file (the numpy references), by tensor name.
    static func doubles(_ path: String) throws -> [String: [Double]] {
        try safetensorsTensors(path).mapValues { tensor in
            #expect(tensor.dtype == "F64")
            return stride(from: 0, to: tensor.bytes.count, by: 8).map { i in
                Double(bitPattern: tensor.bytes.subdata(in: i..<(i + 8)).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
            }
        }
    }

    /// A kohya file with LLM names (`base_model_model_model_layers_…`: Q, K with a per-row DoRA scale,
    /// O with a per-column one) merged into the llama GGUF base: within 4 f32 ulps (at the operands'
    /// scale) of numpy's float64 merge laid out as llama.cpp's converter lays it out (gguf-py names, Q/K
    /// rows permuted), and byte-identical to merging into the Hugging Face base and converting.
    /// The image-model prefix (`lora_unet_`) of the other kohya fixture maps the same way.
    @Test func kohyaAdapterIntoLlamaGGUF() throws {
        let base = Self.surgery + "/llama-f32"
        let (work, ggufBase) = try GGUFMergeCLITests.scratch("gguf-kohya", base: base)
        defer { try? FileManager.default.removeItem(atPath: work) }
        for adapter in ["kohya-llm.safetensors", "kohya.safetensors"] {
            let output = work + "/\(adapter).gguf"
            let run = try ckpt(["merge", ggufBase, Self.surgery + "/" + adapter, "-o", output])
            #expect(run.status == 0, "\(adapter): \(run.stderr)")
            #expect(run.stderr.contains("module names mapped to llama.cpp's (llama, kohya names"), "\(run.stderr)")
            let reference = try GGUFMergeCLITests.mergeThenConvert(base: base, adapter: Self.surgery + "/" + adapter, into: work)
            #expect(GGUFMergeCLITests.bytes(output) == GGUFMergeCLITests.bytes(reference), "\(adapter): differs from merge-then-convert")
        }
        #expect(try ckpt(["merge", ggufBase, Self.surgery + "/kohya-llm.safetensors", "-o", work + "/x.gguf", "--quiet"]).stderr.isEmpty)
        let (merged, original) = try (floats(work + "/kohya-llm.safetensors.gguf", in: work), floats(ggufBase, in: work))
        let reference = try Self.doubles(Self.surgery + "/kohya-llm.reference-f64.safetensors")
        #expect(reference.keys.sorted() == ["blk.0.attn_output.weight", "blk.0.attn_q.weight", "blk.1.attn_k.weight", "blk.1.ffn_gate.weight"])
        var worst = 0.0
        for (name, expected) in reference {
            let got = try #require(merged[name]), w = try #require(original[name])
            #expect(got.count == expected.count)
            for j in expected.indices {
                let magnitude = Float(max(abs(Double(w[j])), abs(expected[j])) + abs(expected[j] - Double(w[j])))
                worst = max(worst, abs(Double(got[j]) - expected[j]) / Double(magnitude.ulp))
            }
        }
        #expect(worst <= 4, "kohya into GGUF: \(worst) f32 ulps from the float64 reference")
        for (name, values) in original where reference[name] == nil { #expect(merged[name] == values, "\(name) must be untouched") }
    }

    /// A PEFT LoRA of a transformers Qwen2 (Q/K/V biases) or Qwen3 (q_norm / k_norm) merged into the GGUF
    /// gguf-py wrote for it (their names, Q/K not permuted): every tensor equals the merge into the
    /// Hugging Face model bit for bit, under the name gguf-py's TensorNameMap gives it; unmerge with the
    /// residual restores the GGUF byte for byte.
    @Test(arguments: ["qwen2", "qwen3"])
    func peftAdapterIntoQwenGGUF(architecture: String) throws {
        let work = try temporaryFolder("gguf-\(architecture)")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let adapter = Self.fixtures + "/\(architecture)-lora", base = Self.fixtures + "/\(architecture).gguf"
        let run = try ckpt(["merge", base, adapter, "-o", work + "/merged.gguf", "--residual", work + "/r.safetensors"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("module names mapped to llama.cpp's (\(architecture), gguf-py tensor map)") && !run.stderr.contains("permuted"), "\(run.stderr)")
        #expect(try ckpt(["merge", Self.fixtures + "/\(architecture)", adapter, "-o", work + "/hf.safetensors", "--quiet"]).status == 0)
        let names = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/arch_names.json"))) as? [String: [String: Any]])
        let table = try #require(names[architecture])
        let (gguf, hf, original) = try (floats(work + "/merged.gguf", in: work), floats(work + "/hf.safetensors", in: work), floats(base, in: work))
        #expect(gguf.count == hf.count && gguf.count == original.count && gguf.count > 20)
        var changed = 0
        for (name, values) in hf {
            let ggufName = try #require(table[name] as? String, "\(name)")
            #expect(gguf[ggufName]?.map(\.bitPattern) == values.map(\.bitPattern), "\(name) → \(ggufName)")
            if gguf[ggufName] != original[ggufName] { changed += 1 }
        }
        #expect(changed == 14)
        let back = try ckpt(["unmerge", work + "/merged.gguf", adapter, "-o", work + "/back.gguf", "--residual", work + "/r.safetensors", "--quiet"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(GGUFMergeCLITests.bytes(work + "/back.gguf") == GGUFMergeCLITests.bytes(base))
    }

    /// Gemma: a PEFT LoRA of the projections merges into the GGUF (gguf-py names, norms stored as
    /// 1 + w and left alone) with the bits of the merge into the Hugging Face model; lm_head and
    /// embedding updates are refused (llama.cpp's Gemma always uses token_embd.weight as the output),
    /// saying that --untie cannot help (llama.cpp would refuse an extra output.weight).
    @Test func gemmaGGUF() throws {
        let work = try temporaryFolder("gguf-gemma")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let base = Self.fixtures + "/gemma.gguf"
        let run = try ckpt(["merge", base, Self.fixtures + "/gemma-lora", "-o", work + "/merged.gguf"])
        #expect(run.status == 0 && run.stderr.contains("mapped to llama.cpp's (gemma, gguf-py tensor map)"), "\(run.stderr)")
        #expect(try ckpt(["merge", Self.fixtures + "/gemma", Self.fixtures + "/gemma-lora", "-o", work + "/hf.safetensors", "--quiet"]).status == 0)
        let names = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/arch_names.json"))) as? [String: [String: Any]])
        let gemma = try #require(names["gemma"])
        let (merged, hf, original, hfBase) = try (floats(work + "/merged.gguf", in: work), floats(work + "/hf.safetensors", in: work),
                                                   floats(base, in: work), floats(Self.fixtures + "/gemma", in: work))
        var changed = 0
        for (name, values) in hf where values != hfBase[name] {
            let ggufName = try #require(gemma[name] as? String, "\(name)")
            #expect(merged[ggufName]?.map(\.bitPattern) == values.map(\.bitPattern), "\(name) → \(ggufName)")
            changed += 1
        }
        #expect(changed == 14)
        #expect(merged.filter { original[$0.key] != $0.value }.count == 14 && merged.count == original.count)
        #expect(merged["output.weight"] == nil && merged["blk.0.attn_norm.weight"] == original["blk.0.attn_norm.weight"])

        let head = try ckpt(["merge", base, Self.fixtures + "/gemma-lora-head", "-o", work + "/x.gguf", "--untie"])
        #expect(head.status == 3 && head.stderr.contains("lm_head: an update of the output layer of a gemma GGUF"), "\(head.stderr)")
        let embed = try ckpt(["merge", base, Self.fixtures + "/gemma-lora-embed", "-o", work + "/x.gguf"])
        #expect(embed.status == 3 && embed.stderr.contains("update of token_embd.weight of a gemma GGUF") && embed.stderr.contains("--untie cannot help"), "\(embed.stderr)")
        let untie = try ckpt(["merge", base, Self.fixtures + "/gemma-lora-embed", "-o", work + "/x.gguf", "--untie"])
        #expect(untie.status == 3 && untie.stderr.contains("--untie cannot separate them"), "\(untie.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/x.gguf"))
    }

    /// An architecture whose names ckpt does not know is refused, naming it and listing those it knows;
    /// an adapter module with no llama.cpp name is an unmatched module (--ignore-unmatched skips it).
    @Test func unknownArchitecturesAndModules() throws {
        let work = try temporaryFolder("gguf-arch-refused")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let refused = try ckpt(["merge", Self.fixtures + "/phi3.gguf", Self.fixtures + "/qwen2-lora", "-o", work + "/x.gguf"])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("GGUF architecture 'phi3'") && refused.stderr.contains("llama, qwen2, qwen3, gemma, gemma2"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/x.gguf"))
        let gpt2 = Self.surgery + "/gpt2-fan-in-fan-out"
        let other = try ckpt(["merge", Self.fixtures + "/qwen2.gguf", gpt2, "-o", work + "/x.gguf"])
        #expect(other.status == 3 && other.stderr.contains("module 'transformer.h.0.attn.c_attn' matches no tensor of the base"), "\(other.stderr)")
        let skipped = try ckpt(["merge", Self.fixtures + "/qwen2.gguf", gpt2, "-o", work + "/x.gguf", "--ignore-unmatched"])
        #expect(skipped.status == 0 && skipped.stderr.contains("skipped: "), "\(skipped.stderr)")
    }

    /// Tied GGUF bases: the refusal says that a missing output.weight is what ties the output to
    /// token_embd.weight (no config.json involved), and --untie with an embedding LoRA writes
    /// output.weight, llama.cpp's name, not lm_head.weight.
    @Test func tiedGGUFMessagesSpeakLlamaCpp() throws {
        let (work, ggufBase) = try GGUFMergeCLITests.scratch("gguf-tied-messages", base: Self.surgery + "/llama-tied")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let adapter = work + "/embedding-lora"
        try FileManager.default.createDirectory(atPath: adapter, withIntermediateDirectories: true)
        // The embedding fixture without its modules_to_save (lm_head), so only the embedding LoRA touches the tie.
        let config = try String(contentsOfFile: Self.surgery + "/embedding/adapter_config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"lm_head\"", with: "\"none_such\"").write(toFile: adapter + "/adapter_config.json", atomically: true, encoding: .utf8)
        let selected = try ckpt(["convert", Self.surgery + "/embedding/adapter_model.safetensors", adapter + "/adapter_model.safetensors", "--exclude", "lm_head", "--quiet"])
        #expect(selected.status == 0, "\(selected.stderr)")
        let refused = try ckpt(["merge", ggufBase, adapter, "-o", work + "/x.gguf"])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("has no output.weight") && refused.stderr.contains("'token_embd.weight'") && refused.stderr.contains("separate output.weight"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("config.json") && !refused.stderr.contains("lm_head.weight"), "\(refused.stderr)")
        let untied = try ckpt(["merge", ggufBase, adapter, "-o", work + "/untied.gguf", "--untie"])
        #expect(untied.status == 0, "\(untied.stderr)")
        #expect(untied.stderr.contains("wrote output.weight as a separate copy of token_embd.weight") && !untied.stderr.contains("config.json"), "\(untied.stderr)")
        let tensors = try floats(work + "/untied.gguf", in: work)
        #expect(tensors["output.weight"] != nil && tensors["lm_head.weight"] == nil, "\(tensors.keys.sorted())")
    }
}
