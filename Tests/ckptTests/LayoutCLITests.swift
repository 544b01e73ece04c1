import Testing
import Foundation

/// `--to LAYOUT` of resize, extract, combine and melora: the same operation written as PEFT, kohya and
/// GGUF must merge into the same weights. PEFT and kohya outputs are merged into the Hugging Face base,
/// GGUF outputs (and PEFT ones, mapped by ckpt merge) into the same base converted to GGUF.
@Suite struct LayoutCLITests {
    static let surgery = repositoryFixtures + "/surgery"
    static let gguf = repositoryFixtures + "/gguf"
    static let rank = repositoryFixtures + "/rank"

    static func run(_ arguments: [String]) throws {
        let result = try ckpt(arguments + ["--force"])
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
    }

    /// The merged file of `adapter` into `base`.
    static func merged(_ base: String, _ adapter: String, in work: String) throws -> String {
        let output = work + "/merged-" + UUID().uuidString + (base.hasSuffix(".gguf") ? ".gguf" : ".safetensors")
        try run(["merge", base, adapter, "-o", output, "--quiet"])
        return output
    }

    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    static func scratch(_ label: String, base: String) throws -> (work: String, base: String) {
        let work = try temporaryFolder(label)
        try run(["convert", base, work + "/base.gguf", "--arch", "llama", "--quiet"])
        return (work, work + "/base.gguf")
    }

    /// A resized adapter written as PEFT, kohya and GGUF merges bit for bit like the PEFT output, except
    /// the modules whose scale the single GGUF alpha cannot express with a power of two (patterns'
    /// v_proj, alpha 3): there one rounding of B·ratio, within one float32 step of the tensor's largest weight.
    @Test(arguments: ["lora", "rslora", "patterns"])
    func resizedAdapterMergesAlikeInEveryLayout(adapter: String) throws {
        let (work, ggufBase) = try Self.scratch("layouts-resize", base: Self.surgery + "/llama-f32")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let source = Self.surgery + "/" + adapter, hfBase = Self.surgery + "/llama-f32"
        try Self.run(["resize", source, "-o", work + "/peft", "--rank", "64"])
        try Self.run(["resize", source, "-o", work + "/kohya.safetensors", "--rank", "64", "--to", "kohya"])
        let gguf = try ckpt(["resize", source, "-o", work + "/adapter.gguf", "--rank", "64", "--to", "gguf", "--base-config", hfBase])
        #expect(gguf.status == 0, "\(gguf.stderr)")
        let reference = try Self.merged(hfBase, work + "/peft", in: work)
        #expect(Self.bytes(try Self.merged(hfBase, work + "/kohya.safetensors", in: work)) == Self.bytes(reference), "\(adapter): kohya output merges differently")
        let ggufReference = try Self.merged(ggufBase, work + "/peft", in: work)
        let ggufMerged = try Self.merged(ggufBase, work + "/adapter.gguf", in: work)
        guard adapter == "patterns" else {
            #expect(!gguf.stdout.contains("multiplied into"))
            #expect(Self.bytes(ggufMerged) == Self.bytes(ggufReference), "\(adapter): GGUF output merges differently")
            return
        }
        #expect(gguf.stdout.contains("the scale of 3 module(s) with another α/r is multiplied into their lora_b: blk.0.attn_output, blk.0.attn_v, blk.1.attn_v"), "\(gguf.stdout)")
        try Self.run(["convert", ggufReference, work + "/reference.safetensors", "--quiet"])
        try Self.run(["convert", ggufMerged, work + "/ours.safetensors", "--quiet"])
        let expected = try F32Tensors(path: work + "/reference.safetensors"), ours = try F32Tensors(path: work + "/ours.safetensors")
        #expect(expected.values.keys.sorted() == ours.values.keys.sorted())
        for (name, values) in expected.values {
            let got = try #require(ours.values[name])
            if name.hasSuffix("attn_v.weight") {
                let step = (values.map(abs).max() ?? 0).ulp
                #expect(zip(values, got).allSatisfy { abs($0 - $1) <= step }, "\(name): beyond one float32 step of the tensor's largest weight")
            } else {
                #expect(values == got, "\(name): not bit-identical (its scale needed no folding)")
            }
        }
    }

    /// Sources in the other layouts: a GGUF adapter to PEFT and kohya (Q/K rows un-permuted), a kohya
    /// file to PEFT and GGUF (names unflattened), MELoRA to kohya and GGUF (blocks joined) — each
    /// merges exactly like the same resize written in the source's own layout.
    @Test func otherSourceLayoutsConvertExactly() throws {
        let hfBase = Self.surgery + "/llama-f32"
        let (work, ggufBase) = try Self.scratch("layouts-sources", base: hfBase)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Self.run(["resize", Self.surgery + "/lora", "-o", work + "/source.gguf", "--rank", "3", "--to", "gguf", "--base-config", hfBase])
        try Self.run(["resize", work + "/source.gguf", "-o", work + "/own.gguf", "--rank", "2"])
        try Self.run(["resize", work + "/source.gguf", "-o", work + "/peft", "--rank", "2", "--to", "peft", "--base-config", ggufBase])
        try Self.run(["resize", work + "/source.gguf", "-o", work + "/kohya.safetensors", "--rank", "2", "--to", "kohya", "--base-config", ggufBase])
        let ggufReference = Self.bytes(try Self.merged(ggufBase, work + "/own.gguf", in: work))
        #expect(Self.bytes(try Self.merged(ggufBase, work + "/peft", in: work)) == ggufReference, "GGUF → PEFT")
        #expect(Self.bytes(try Self.merged(hfBase, work + "/kohya.safetensors", in: work)) == Self.bytes(try Self.merged(hfBase, work + "/peft", in: work)), "GGUF → kohya")
        let missing = try ckpt(["resize", work + "/source.gguf", "-o", work + "/x", "--rank", "2", "--to", "peft"])
        #expect(missing.status == 3 && missing.stderr.contains("rotary projection") && missing.stderr.contains("--base-config"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/x"))

        try Self.run(["resize", Self.surgery + "/lora", "-o", work + "/source.safetensors", "--rank", "3", "--to", "kohya"])
        try Self.run(["resize", work + "/source.safetensors", "-o", work + "/own.safetensors", "--rank", "2"])
        try Self.run(["resize", work + "/source.safetensors", "-o", work + "/from-kohya", "--rank", "2", "--to", "peft"])
        try Self.run(["resize", work + "/source.safetensors", "-o", work + "/from-kohya.gguf", "--rank", "2", "--to", "gguf", "--base-config", hfBase])
        let kohyaReference = try Self.merged(hfBase, work + "/own.safetensors", in: work)
        #expect(Self.bytes(try Self.merged(hfBase, work + "/from-kohya", in: work)) == Self.bytes(kohyaReference), "kohya → PEFT")
        #expect(Self.bytes(try Self.merged(ggufBase, work + "/from-kohya.gguf", in: work)) == Self.bytes(try Self.merged(ggufBase, work + "/from-kohya", in: work)), "kohya → GGUF")

        let melora = Self.surgery + "/melora-peft"
        try Self.run(["resize", melora, "-o", work + "/melora", "--rank", "1"])
        try Self.run(["resize", melora, "-o", work + "/melora.safetensors", "--rank", "1", "--to", "kohya"])
        try Self.run(["resize", melora, "-o", work + "/melora.gguf", "--rank", "1", "--to", "gguf", "--base-config", hfBase])
        try Self.run(["melora", work + "/melora", "-o", work + "/joined", "--join"])
        try Self.run(["melora", work + "/melora", "-o", work + "/joined.safetensors", "--join", "--to", "kohya"])
        let meloraReference = Self.bytes(try Self.merged(hfBase, work + "/melora", in: work))
        #expect(meloraReference != nil)
        for output in ["/melora.safetensors", "/joined", "/joined.safetensors"] {
            let got = Self.bytes(try Self.merged(hfBase, work + output, in: work))
            // Joining bakes each block's scale into B (one rounding): bit-exact because resize already did.
            #expect(got == meloraReference, "MELoRA\(output)")
        }
        #expect(Self.bytes(try Self.merged(ggufBase, work + "/melora.gguf", in: work)) == Self.bytes(try Self.merged(ggufBase, work + "/joined", in: work)), "MELoRA → GGUF")
    }

    /// extract and combine write every layout; what a layout cannot hold is refused by name, leaving
    /// no output.
    @Test func extractAndCombineWriteEveryLayout() throws {
        let hfBase = Self.surgery + "/llama-f32"
        let (work, ggufBase) = try Self.scratch("layouts-extract", base: hfBase)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work + "/tuned", withIntermediateDirectories: true)
        try Self.run(["merge", hfBase, Self.surgery + "/lora", "-o", work + "/tuned/model.safetensors", "--quiet"])
        try Self.run(["extract", hfBase, work + "/tuned", "-o", work + "/x", "--rank", "4"])
        try Self.run(["extract", hfBase, work + "/tuned", "-o", work + "/x.safetensors", "--rank", "4", "--to", "kohya"])
        try Self.run(["extract", hfBase, work + "/tuned", "-o", work + "/x.gguf", "--rank", "4", "--to", "gguf", "--base-config", hfBase])
        #expect(Self.bytes(try Self.merged(hfBase, work + "/x.safetensors", in: work)) == Self.bytes(try Self.merged(hfBase, work + "/x", in: work)))
        #expect(Self.bytes(try Self.merged(ggufBase, work + "/x.gguf", in: work)) == Self.bytes(try Self.merged(ggufBase, work + "/x", in: work)))

        try Self.run(["combine", Self.surgery + "/lora", Self.surgery + "/rslora", "-o", work + "/c"])
        try Self.run(["combine", Self.surgery + "/lora", Self.surgery + "/rslora", "-o", work + "/c.safetensors", "--to", "kohya"])
        #expect(Self.bytes(try Self.merged(hfBase, work + "/c.safetensors", in: work)) == Self.bytes(try Self.merged(hfBase, work + "/c", in: work)))

        // The rank fixtures' fine-tune changed a norm: modules_to_save, which only PEFT holds.
        let refused = try ckpt(["extract", Self.rank + "/base", Self.rank + "/tuned", "-o", work + "/n.safetensors", "--rank", "2", "--to", "kohya"])
        #expect(refused.status == 3 && refused.stderr.contains("modules_to_save") && refused.stderr.contains("--to peft"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/n.safetensors"))
        let mixed = try ckpt(["combine", Self.surgery + "/lora", work + "/x.safetensors", "-o", work + "/mixed"])
        #expect(mixed.status == 3 && mixed.stderr.contains("name modules differently"), "\(mixed.stderr)")
        let melora = try ckpt(["resize", Self.surgery + "/lora", "-o", work + "/m", "--rank", "2", "--to", "melora"])
        #expect(melora.status == 3 && melora.stderr.contains("ckpt melora --splits"), "\(melora.stderr)")
        let bad = try ckpt(["resize", Self.surgery + "/lora", "-o", work + "/m", "--rank", "2", "--to", "onnx"])
        #expect(bad.status == 2 && bad.stderr.contains("peft, kohya, melora, gguf"), "\(bad.stderr)")
    }
}

extension LayoutCLITests {
    /// DoRA resize stays refused (docs/DESIGN.md): the message names the module, says why the merged
    /// error cannot be known without the base, and gives the measured way out; nothing is written.
    @Test func doraResizeIsRefusedWithTheWayOut() throws {
        let work = try temporaryFolder("layouts-dora")
        defer { try? FileManager.default.removeItem(atPath: work) }
        for layout in ["peft", "kohya"] {
            let run = try ckpt(["resize", Self.surgery + "/dora", "-o", work + "/out", "--rank", "2", "--to", layout])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stderr.contains("module 'model.layers.0.") && run.stderr.contains("‖W + ΔW‖") && run.stderr.contains("ckpt extract BASE MERGED --rank R"), "\(run.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: work).isEmpty)
        }
    }
}

/// The F32 tensors of a safetensors file (test reference only).
struct F32Tensors {
    var values: [String: [Float]] = [:]

    init(path: String) throws {
        let data = try #require(FileManager.default.contents(atPath: path))
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
        for (name, entry) in header where name != "__metadata__" {
            let info = try #require(entry as? [String: Any])
            guard info["dtype"] as? String == "F32", let offsets = info["data_offsets"] as? [Int] else { continue }
            let bytes = data.subdata(in: (8 + length + offsets[0])..<(8 + length + offsets[1]))
            values[name] = bytes.withUnsafeBytes { raw in (0..<(bytes.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) } }
        }
    }
}

/// The real tools read what `--to` writes: gguf-py reads the GGUF adapter with llama.cpp's keys, names,
/// shapes and values (against PEFT's own reading of the same adapter), and PEFT loads the PEFT folders
/// converted from GGUF and kohya sources, merging to the ‖ΔW‖ ckpt computes. Needs a Python with torch,
/// transformers, peft and gguf (CKPT_PYTHON); skipped without one unless CKPT_REQUIRE_PYTHON=1.
@Suite struct LayoutInteropTests {
    static let python = pythonImporting("peft, transformers, torch, gguf")

    static var enabled: Bool { python != nil || ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    /// Runs a fixture script and parses the JSON object it prints (exit status 0 required).
    static func runJSON(_ python: String, _ arguments: [String]) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(arguments): \(String(decoding: errors.suffix(2000), as: UTF8.self))")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Double])
    }

    /// gguf-py: general.type / adapter.type / architecture / F32 alpha, exactly the PEFT layers' pairs
    /// under gguf-py's names for the base's architecture, lora_a = A bit for bit, lora_b = B (llama: with
    /// the Q/K permutation; bit for bit unless folded), and
    /// llama.cpp's (alpha / r)·lora_b·lora_a = PEFT's scaling·B·A. Patterns (folded scales) and the
    /// gguf fixture's adapter with an embedding (token_embd's lora_a transposed).
    @Test(.enabled(if: enabled, "no Python with peft, transformers, torch and gguf: set CKPT_PYTHON"))
    func ggufPyReadsTheGGUFAdapter() throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with peft and gguf (set CKPT_PYTHON)")
        let work = try temporaryFolder("layouts-ggufpy")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let other = repositoryFixtures + "/surgery-gguf"
        // qwen2, qwen3, gemma, gemma2: their names from gguf-py's map, general.architecture, no Q/K permutation.
        let cases = [(LayoutCLITests.surgery + "/llama-f32", LayoutCLITests.surgery + "/patterns", 14, 11),
                     (LayoutCLITests.gguf + "/hf_llama", LayoutCLITests.gguf + "/peft_lora", 15, 13),
                     (other + "/qwen2", other + "/qwen2-lora", 14, 14), (other + "/qwen3", other + "/qwen3-lora", 14, 14),
                     (other + "/gemma", other + "/gemma-lora", 14, 14), (other + "/gemma2", other + "/gemma2-lora", 14, 14)]
        for (base, adapter, modules, exact) in cases {
            try LayoutCLITests.run(["resize", adapter, "-o", work + "/peft", "--rank", "64"])
            try LayoutCLITests.run(["resize", adapter, "-o", work + "/a.gguf", "--rank", "64", "--to", "gguf", "--base-config", base])
            let report = try Self.runJSON(python, [repositoryFixtures + "/surgery-gguf/check_lora_adapter.py", base, work + "/peft", work + "/a.gguf"])
            #expect(report["modules"] == Double(modules) && report["exact_b"] == Double(exact), "\(adapter): \(report)")
            #expect((report["max_relative_error"] ?? 1) < 1e-6)
        }
    }

    /// PEFT loads PEFT folders converted from a GGUF adapter (names mapped back, Q/K rows un-permuted,
    /// token_embd back to lora_embedding_A/B) and from a kohya file (names unflattened), and its merge
    /// gives per weight the ‖ΔW‖_F that `ckpt rank` computes from the factors.
    @Test(.enabled(if: enabled, "no Python with peft, transformers, torch and gguf: set CKPT_PYTHON"))
    func peftLoadsConvertedAdapters() throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with peft and gguf (set CKPT_PYTHON)")
        let work = try temporaryFolder("layouts-peft")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let cases = [(LayoutCLITests.gguf + "/hf_llama", LayoutCLITests.gguf + "/peft_lora.gguf", 15),
                     (LayoutCLITests.rank + "/base", LayoutCLITests.rank + "/kohya.safetensors", 14)]
        for (base, adapter, count) in cases {
            try LayoutCLITests.run(["resize", adapter, "-o", work + "/out", "--rank", "3", "--to", "peft", "--base-config", base])
            let run = try ckpt(["rank", work + "/out", "--json"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let modules = try #require(report["modules"] as? [[String: Any]])
            let norms = try Self.runJSON(python, [LayoutCLITests.rank + "/check_adapter.py", base, work + "/out"])
            #expect(norms.count == count && modules.count == count, "\(adapter): \(norms.keys.sorted())")
            for module in modules {
                let name = (module["module"] as? String ?? "") + ".weight"
                let ours = module["frobenius_norm"] as? Double ?? -1, peft = try #require(norms[name], "\(adapter): \(name)")
                #expect(abs(peft - ours) <= 1e-5 * ours, "\(adapter) \(name): PEFT \(peft), ckpt \(ours)")
            }
        }
    }
}
