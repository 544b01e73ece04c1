import Testing
import Foundation

/// `ckpt` on GGUF files, end to end through the executable.
@Suite struct GGUFCLITests {
    static let folder = repositoryFixtures + "/gguf"

    /// Every file of the malformed GGUF corpus fails with exit status 3, a message naming the file,
    /// and nothing in the output folder (converting to GGUF and to safetensors).
    @Test func malformedGGUFLeavesNoOutput() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.folder + "/malformed/MANIFEST.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
        #expect(manifest.count >= 25)
        let output = try temporaryFolder("gguf-malformed")
        defer { try? FileManager.default.removeItem(atPath: output) }
        for name in manifest.keys.sorted() {
            for target in ["out.gguf", "out.safetensors"] {
                let run = try ckpt(["convert", Self.folder + "/malformed/" + name, output + "/" + target])
                #expect(run.status == 3, "\(name): status \(run.status) \(run.stderr)")
                #expect(run.stderr.hasPrefix("ckpt: error: "), "\(name): \(run.stderr)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty, "\(name) left output behind")
            }
        }
    }

    @Test func inspectShowsTypedKeysWarningsAndGGMLTypes() throws {
        let run = try ckpt(["inspect", Self.folder + "/all_kv_types.gguf", "--tensors", "--ggml-order"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("format       gguf"))
        #expect(run.stdout.contains("t.u32                UINT32         4000000000"))
        #expect(run.stdout.contains("t.bytes_str          STRING         \"\\xff\\xfe byte token \\x80\""))
        #expect(run.stdout.contains("[0, 1, 2, 3, 4, 5, 6, 7, … (1000 elements)]"))
        #expect(run.stdout.contains("ARRAY[ARRAY[INT32]] [[1, 2], [3], [4, 5, 6]]"))
        #expect(run.stdout.contains("warning      key 't.nested' holds an array of arrays: llama.cpp (ggml) refuses to load this file"))
        #expect(run.stdout.contains("i64   I64    [1, 1, 3, 1]  [1, 3, 1, 1]"))
        let quantized = try ckpt(["inspect", Self.folder + "/all_types.gguf"])
        #expect(quantized.stdout.contains("Q4_K        1 tensors              512 params      288 B"))
    }

    @Test func inspectJSONIsComplete() throws {
        let run = try ckpt(["inspect", Self.folder + "/all_kv_types.gguf", "--json", "--tensors"])
        #expect(run.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let metadata = try #require(report["metadata"] as? [[String: Any]])
        let long = try #require(metadata.first { $0["key"] as? String == "t.long_arr" })
        #expect((long["value"] as? [Int])?.count == 1000)
        #expect(long["type"] as? String == "ARRAY[INT32]")
        let bytes = try #require(metadata.first { $0["key"] as? String == "t.bytes_str" })
        #expect(bytes["value"] as? String == "\\xff\\xfe byte token \\x80")
        let floats = try #require(metadata.first { $0["key"] as? String == "t.f32_arr" })
        #expect((floats["value"] as? [Any])?.last as? String == "inf")
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        #expect(tensors.first?["ne"] as? [Int] == [4, 3])
        #expect(tensors.first?["shape"] as? [Int] == [3, 4])
        #expect((report["warnings"] as? [String])?.count == 2)
    }

    @Test func convertRoundTripAndQuantizeThroughTheCLI() throws {
        let output = try temporaryFolder("gguf-cli")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let source = repositoryFixtures + "/safetensors/small_model.safetensors"
        #expect(try ckpt(["convert", source, output + "/m.gguf", "--quiet"]).status == 0)
        #expect(try ckpt(["convert", output + "/m.gguf", output + "/back.safetensors", "--quiet"]).status == 0)
        #expect(FileManager.default.contents(atPath: output + "/back.safetensors") == FileManager.default.contents(atPath: source))
        let q = try ckpt(["convert", Self.folder + "/llama_tiny.gguf", output + "/q.gguf", "--dtype", "q8_0", "--dtype-map", "output\\.weight=q6_k"])
        #expect(q.status == 0, "\(q.stderr)")
        // q6_k needs rows of 256: output.weight and blk.0.attn_output.weight (rows of 64) stay f16, norms f32.
        #expect(q.stderr.contains("5 tensor(s) kept in float"))
        let split = try ckpt(["convert", Self.folder + "/llama_tiny.gguf", output + "/parts.gguf", "--split-max-tensors", "5", "--quiet"])
        #expect(split.status == 0, "\(split.stderr)")
        let parts = try FileManager.default.contentsOfDirectory(atPath: output).filter { $0.hasPrefix("parts-") }.sorted()
        #expect(parts == ["parts-00001-of-00003.gguf", "parts-00002-of-00003.gguf", "parts-00003-of-00003.gguf"])
        let back = try ckpt(["convert", output + "/" + parts[1], output + "/joined.gguf", "--quiet"])
        #expect(back.status == 0)
        #expect(FileManager.default.contents(atPath: output + "/joined.gguf") == FileManager.default.contents(atPath: Self.folder + "/llama_tiny.gguf"))
        let deq = try ckpt(["convert", output + "/q.gguf", output + "/deq.safetensors"])
        #expect(deq.status == 0)
        #expect(deq.stderr.contains("7 ggml-quantized tensor(s) dequantized to f32"))
    }

    /// Every ggml block type of all_types.gguf, the grid i-quants included, dequantizes into safetensors
    /// (the values are checked against gguf-py in GGUFQuantizationTests).
    @Test func everyBlockTypeConvertsToSafetensors() throws {
        let output = try temporaryFolder("gguf-iquant")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let f32 = try ckpt(["convert", Self.folder + "/all_types.gguf", output + "/f32.safetensors"])
        #expect(f32.status == 0, "\(f32.stderr)")
        #expect(f32.stderr.contains("24 ggml-quantized tensor(s) dequantized to f32"), "\(f32.stderr)")
        let f16 = try ckpt(["convert", Self.folder + "/all_types.gguf", "--dtype", "f16", "--include", "iq", output + "/f16.safetensors"])
        #expect(f16.status == 0, "\(f16.stderr)")
        let listing = try ckpt(["inspect", output + "/f16.safetensors", "--tensors"])
        #expect(listing.stdout.contains("t_iq2_xxs") && listing.stdout.contains("F16"), "\(listing.stdout)")
    }

    @Test func usageErrorsSayWhatToDo() throws {
        let output = try temporaryFolder("gguf-usage")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let source = repositoryFixtures + "/safetensors/small_model.safetensors"
        let split = try ckpt(["convert", source, output + "/x.safetensors", "--split-max-tensors", "2"])
        #expect(split.status == 2 && split.stderr.contains("--shard-size"))
        let quant = try ckpt(["convert", source, output + "/x.gguf", "--dtype", "iq2_xxs"])
        #expect(quant.status == 2 && quant.stderr.contains("ckpt cannot quantize to IQ2_XXS (16); ggml builds IQ2_XXS by a grid search best guided by an importance matrix: write f16 and run llama.cpp's llama-quantize --imatrix"))
        let toSafetensors = try ckpt(["convert", source, output + "/x.safetensors", "--dtype", "q8_0"])
        #expect(toSafetensors.status == 2 && toSafetensors.stderr.contains("only GGUF output holds it"))
        let arch = try ckpt(["convert", source, output + "/x.gguf", "--arch", "gpt2"])
        #expect(arch.status == 2 && arch.stderr.contains("--arch llama"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty)
    }
}
