import Testing
import Foundation

/// `ckpt merge` / `unmerge` with GGUF bases and GGUF LoRA adapters, checked against the other road to
/// the same file: merge into the Hugging Face base, then `ckpt convert --arch llama`.
@Suite struct GGUFMergeCLITests {
    static let surgery = repositoryFixtures + "/surgery"
    static let gguf = repositoryFixtures + "/gguf"

    /// Converts a Hugging Face folder to a llama GGUF (the same way for bases and merged outputs).
    static func toGGUF(_ folder: String, _ output: String) throws {
        let run = try ckpt(["convert", folder, output, "--arch", "llama", "--force", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
    }

    /// The reference: PEFT adapter merged into the HF base, written next to its config.json, converted.
    static func mergeThenConvert(base: String, adapter: String, into work: String) throws -> String {
        let folder = work + "/reference-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: base + "/config.json", toPath: folder + "/config.json")
        let merged = try ckpt(["merge", base, adapter, "-o", folder + "/", "--quiet"])
        #expect(merged.status == 0, "\(merged.stderr)")
        let output = folder + ".gguf"
        try toGGUF(folder, output)
        return output
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// A scratch folder with the fixture base `base` converted to GGUF in it (`work/base.gguf`).
    static func scratch(_ label: String, base: String) throws -> (work: String, base: String) {
        let work = try temporaryFolder(label)
        try toGGUF(base, work + "/base.gguf")
        return (work, work + "/base.gguf")
    }

    /// The fixtures' `lora` merged into a Q8_0 llama GGUF of `llama-f32`, both converted by ckpt.
    static func q8Merge(_ label: String) throws -> (work: String, base: String, adapter: String, merged: String) {
        let surgery = repositoryFixtures + "/surgery"
        let (work, ggufBase) = try scratch(label, base: surgery + "/llama-f32")
        let (base, adapter, merged) = (work + "/q8.gguf", work + "/a.gguf", work + "/merged.gguf")
        #expect(try ckpt(["convert", ggufBase, base, "--dtype", "q8_0", "--quiet"]).status == 0)
        #expect(try ckpt(["convert", surgery + "/lora", adapter, "--arch", "llama", "--base-config", surgery + "/llama-f32", "--quiet"]).status == 0)
        #expect(try ckpt(["merge", base, adapter, "-o", merged, "--quiet"]).status == 0)
        return (work, base, adapter, merged)
    }

    /// A PEFT adapter (HF names) merged straight into the GGUF base gives the same file, byte for byte,
    /// as merge-then-convert: the Q/K permutation only moves rows of B (and of DoRA magnitudes), so the
    /// arithmetic is the same. Plain, rsLoRA, rank/alpha patterns, DoRA, embedding + modules_to_save.
    @Test(arguments: ["llama-f32", "llama-bf16"])
    func peftAdapterIntoGGUFBase(base: String) throws {
        let (work, ggufBase) = try Self.scratch("gguf-merge-peft", base: Self.surgery + "/" + base)
        defer { try? FileManager.default.removeItem(atPath: work) }
        for adapter in ["lora", "rslora", "patterns", "dora", "embedding"] {
            let reference = try Self.mergeThenConvert(base: Self.surgery + "/" + base, adapter: Self.surgery + "/" + adapter, into: work)
            let output = work + "/\(adapter).gguf"
            let run = try ckpt(["merge", ggufBase, Self.surgery + "/" + adapter, "-o", output])
            #expect(run.status == 0, "\(adapter): \(run.stderr)")
            #expect(run.stderr.contains("module names mapped to llama.cpp's"), "\(adapter): \(run.stderr)")
            #expect(Self.bytes(output) == Self.bytes(reference), "\(base) + \(adapter): merged GGUF differs from merge-then-convert")
        }
    }

    /// The same adapters converted to GGUF LoRA files by ckpt convert --arch llama, then merged into
    /// the GGUF base (detected, and with --adapter-format gguf): byte-identical to merge-then-convert
    /// when the scale survives as alpha / rank (plain, rsLoRA folded into alpha).
    @Test(arguments: ["llama-f32", "llama-bf16"])
    func ggufAdapterIntoGGUFBase(base: String) throws {
        let (work, ggufBase) = try Self.scratch("gguf-merge-adapter", base: Self.surgery + "/" + base)
        defer { try? FileManager.default.removeItem(atPath: work) }
        for adapter in ["lora", "rslora"] {
            let reference = try Self.mergeThenConvert(base: Self.surgery + "/" + base, adapter: Self.surgery + "/" + adapter, into: work)
            let ggufAdapter = work + "/\(adapter).adapter.gguf"
            let converted = try ckpt(["convert", Self.surgery + "/" + adapter, ggufAdapter, "--arch", "llama", "--base-config", Self.surgery + "/" + base, "--quiet"])
            #expect(converted.status == 0, "\(converted.stderr)")
            for forced in [[], ["--adapter-format", "gguf"]] {
                let output = work + "/\(adapter)\(forced.count).gguf"
                let run = try ckpt(["merge", ggufBase, ggufAdapter, "-o", output] + forced)
                #expect(run.status == 0, "\(adapter): \(run.stderr)")
                #expect(run.stderr.contains("scale = adapter.lora.alpha / rank"))
                #expect(Self.bytes(output) == Self.bytes(reference), "\(base) + \(adapter) (GGUF adapter \(forced)): differs from merge-then-convert")
            }
            // Unmerge with the residual restores the GGUF base bit for bit; without it, within rounding.
            let merged = work + "/\(adapter)0.gguf"
            let residualMerge = try ckpt(["merge", ggufBase, ggufAdapter, "-o", work + "/r.gguf", "--residual", work + "/r.residual.safetensors", "--force", "--quiet"])
            #expect(residualMerge.status == 0, "\(residualMerge.stderr)")
            #expect(Self.bytes(work + "/r.gguf") == Self.bytes(merged))
            let back = try ckpt(["unmerge", work + "/r.gguf", ggufAdapter, "-o", work + "/back.gguf", "--residual", work + "/r.residual.safetensors", "--force", "--quiet"])
            #expect(back.status == 0, "\(back.stderr)")
            #expect(Self.bytes(work + "/back.gguf") == Self.bytes(ggufBase), "\(base) + \(adapter): unmerge --residual is not the base")
        }
    }

    /// A per-module scale one alpha cannot express (alpha_pattern) is baked into lora_b by the
    /// conversion, which rounds B once into the factors' dtype (f32 here): the merged values then
    /// differ from merge-then-convert by at most 8 ulps of |W| + |ΔW| (measured: 4), in 2 tensors only.
    @Test func bakedScaleStaysWithinBound() throws {
        let base = Self.surgery + "/llama-f32"
        let (work, ggufBase) = try Self.scratch("gguf-merge-baked", base: base)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let reference = try Self.mergeThenConvert(base: base, adapter: Self.surgery + "/patterns", into: work)
        let ggufAdapter = work + "/patterns.gguf"
        #expect(try ckpt(["convert", Self.surgery + "/patterns", ggufAdapter, "--arch", "llama", "--base-config", base, "--quiet"]).status == 0)
        let output = work + "/merged.gguf"
        #expect(try ckpt(["merge", ggufBase, ggufAdapter, "-o", output, "--quiet"]).status == 0)
        let (got, want, original) = try (floats(output, in: work), floats(reference, in: work), floats(ggufBase, in: work))
        var differing: Set<String> = []
        for (name, values) in want {
            let mine = try #require(got[name]), w = try #require(original[name])
            for i in values.indices where mine[i].bitPattern != values[i].bitPattern {
                differing.insert(name)
                let scale = (abs(w[i]) + abs(values[i] - w[i])).ulp
                #expect(abs(Double(mine[i]) - Double(values[i])) <= 8 * Double(scale), "\(name)[\(i)]: \(mine[i]) vs \(values[i])")
            }
        }
        #expect(differing.count <= 2, "\(differing)")
    }

    /// Third-party files: gguf-py's llama layout of hf_llama and the GGUF adapter laid out as
    /// convert_lora_to_gguf.py lays it out (token_embd's A transposed, Q/K rows of lora_b permuted,
    /// a baked ×0.5) merge to the same tensors as merging the PEFT folder into hf_llama and converting.
    @Test func thirdPartyGGUFAdapterMatchesPEFT() throws {
        let work = try temporaryFolder("gguf-merge-third-party")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let reference = try Self.mergeThenConvert(base: Self.gguf + "/hf_llama", adapter: Self.gguf + "/peft_lora", into: work)
        let want = try floats(reference, in: work)
        for adapter in [Self.gguf + "/peft_lora.gguf", Self.gguf + "/peft_lora"] {
            let output = work + "/merged-\(UUID().uuidString).gguf"
            let run = try ckpt(["merge", Self.gguf + "/llama_from_hf.gguf", adapter, "-o", output])
            #expect(run.status == 0, "\(run.stderr)")
            let got = try floats(output, in: work)
            #expect(got.count == 21 && got.keys.sorted() == want.keys.sorted())
            for (name, values) in want { #expect(got[name]?.map(\.bitPattern) == values.map(\.bitPattern), "\(name)") }
            // The output keeps the base's metadata (architecture, vocabulary) for llama.cpp.
            let inspect = try ckpt(["inspect", output])
            #expect(inspect.stdout.contains("tokenizer.ggml.tokens"), "\(inspect.stdout)")
        }
    }

    /// A GGUF adapter with Q8_0 factors (llama.cpp runs those) merges like its dequantized f32 copy.
    @Test func quantizedAdapterFactors() throws {
        let base = Self.surgery + "/llama-f32"
        let (work, ggufBase) = try Self.scratch("gguf-merge-q8-adapter", base: base)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let steps = [
            ["convert", Self.surgery + "/lora", work + "/a.gguf", "--arch", "llama", "--base-config", base],
            ["convert", work + "/a.gguf", work + "/a-q8.gguf", "--dtype", "q8_0"],
            ["convert", work + "/a-q8.gguf", work + "/a-dequantized.gguf", "--dtype", "f32"],
            ["merge", ggufBase, work + "/a-q8.gguf", "-o", work + "/q8.gguf"],
            ["merge", ggufBase, work + "/a-dequantized.gguf", "-o", work + "/dequantized.gguf"],
        ]
        for step in steps {
            let run = try ckpt(step + ["--quiet"])
            #expect(run.status == 0, "\(step): \(run.stderr)")
        }
        let inspect = try ckpt(["inspect", work + "/a-q8.gguf"])
        #expect(inspect.stdout.contains("Q8_0       14 tensors"), "\(inspect.stdout)")
        let merged = Self.bytes(work + "/q8.gguf")
        #expect(merged != nil && merged == Self.bytes(work + "/dequantized.gguf"))
    }

    /// A GGUF base without output.weight ties the output to token_embd: an lm_head update is refused
    /// (naming token_embd.weight) unless --untie, which writes output.weight, llama.cpp's name for an
    /// untied output; the tensors then equal merge --untie into the HF model, converted untied.
    @Test func tiedGGUFBase() throws {
        let base = Self.surgery + "/llama-tied", adapter = Self.surgery + "/tied-lm-head"
        let (work, ggufBase) = try Self.scratch("gguf-merge-tied", base: base)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let refused = try ckpt(["merge", ggufBase, adapter, "-o", work + "/x.gguf"])
        #expect(refused.status == 3 && refused.stderr.contains("'token_embd.weight'") && refused.stderr.contains("--untie"), "\(refused.stderr)")
        let merged = try ckpt(["merge", ggufBase, adapter, "-o", work + "/untied.gguf", "--untie"])
        #expect(merged.status == 0 && merged.stderr.contains("wrote output.weight"), "\(merged.stderr)")
        let folder = work + "/reference"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let config = try String(contentsOfFile: base + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"tie_word_embeddings\": true", with: "\"tie_word_embeddings\": false").write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        #expect(try ckpt(["merge", base, adapter, "-o", folder + "/", "--untie", "--quiet"]).status == 0)
        try Self.toGGUF(folder, work + "/reference.gguf")
        let (got, want) = try (floats(work + "/untied.gguf", in: work), floats(work + "/reference.gguf", in: work))
        #expect(got.keys.sorted() == want.keys.sorted() && got["output.weight"] != nil)
        for (name, values) in want { #expect(got[name]?.map(\.bitPattern) == values.map(\.bitPattern), "\(name)") }
    }

    @Test func ggufAdapterErrors() throws {
        let (work, ggufBase) = try Self.scratch("gguf-merge-errors", base: Self.surgery + "/llama-f32")
        defer { try? FileManager.default.removeItem(atPath: work) }
        // An adapter of another model: shapes do not fit, named on both sides.
        let mismatch = try ckpt(["merge", ggufBase, Self.gguf + "/peft_lora.gguf", "-o", work + "/x.gguf"])
        #expect(mismatch.status == 3)
        #expect(mismatch.stderr.contains("does not fit base tensor 'token_embd.weight'"), "\(mismatch.stderr)")
        // A GGUF model (not an adapter) forced as one.
        let notAdapter = try ckpt(["merge", ggufBase, ggufBase, "-o", work + "/x.gguf", "--adapter-format", "gguf"])
        #expect(notAdapter.status == 3)
        #expect(notAdapter.stderr.contains("not 'adapter'"), "\(notAdapter.stderr)")
        // A model file (not an adapter) is not detected as an adapter.
        let detected = try ckpt(["merge", ggufBase, ggufBase, "-o", work + "/x.gguf"])
        #expect(detected.status == 3 && detected.stderr.contains("is not an adapter ckpt recognises"), "\(detected.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/x.gguf"))
    }
}

/// The f32/f16/bf16 tensors of a checkpoint as Floats, by name, read through `ckpt convert` to an f32
/// safetensors file parsed here (header JSON + little-endian data).
func floats(_ path: String, in work: String) throws -> [String: [Float]] {
    let target = work + "/floats-\(UUID().uuidString).safetensors"
    let run = try ckpt(["convert", path, target, "--dtype", "f32", "--quiet"])
    #expect(run.status == 0, "\(run.stderr)")
    return try safetensorsTensors(target).mapValues { tensor in
        stride(from: 0, to: tensor.bytes.count, by: 4).map { i in
            Float(bitPattern: tensor.bytes.subdata(in: i..<(i + 4)).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self).littleEndian })
        }
    }
}

/// The tensors of a safetensors file (dtype name and data bytes), parsed here without ckpt.
func safetensorsTensors(_ path: String) throws -> [String: (dtype: String, bytes: Data)] {
    let data = try #require(FileManager.default.contents(atPath: path))
    let length = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self).littleEndian })
    let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
    var result: [String: (dtype: String, bytes: Data)] = [:]
    for (name, entry) in header where name != "__metadata__" {
        let fields = try #require(entry as? [String: Any])
        let offsets = try #require(fields["data_offsets"] as? [Int])
        result[name] = (fields["dtype"] as? String ?? "?", data.subdata(in: (8 + length + offsets[0])..<(8 + length + offsets[1])))
    }
    return result
}
