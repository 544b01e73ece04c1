import Testing
import Foundation

/// `ckpt merge` into quantized GGUF bases: dequantize, merge in Float32, quantize back to each
/// tensor's own type; checked against the same three steps done by separate commands.
@Suite struct GGUFQuantizedMergeCLITests {
    static let surgery = repositoryFixtures + "/surgery"
    static let quantized = repositoryFixtures + "/surgery-gguf"

    /// Q8_0 and Q4_0 bases made by ckpt convert --dtype from the llama fixture: merging a PEFT adapter
    /// gives the same file as dequantize (convert --dtype f32) → merge → quantize (convert --dtype).
    @Test(arguments: ["q8_0", "q4_0"])
    func legacyQuantizedBase(type: String) throws {
        let (work, ggufBase) = try GGUFMergeCLITests.scratch("gguf-merge-\(type)", base: Self.surgery + "/llama-f32")
        defer { try? FileManager.default.removeItem(atPath: work) }
        func run(_ arguments: [String]) throws {
            let result = try ckpt(arguments + ["--force", "--quiet"])
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
        let base = work + "/\(type).gguf"
        try run(["convert", ggufBase, base, "--dtype", type])
        try run(["merge", base, Self.surgery + "/lora", "-o", work + "/merged.gguf"])
        try run(["convert", base, work + "/dequantized.gguf", "--dtype", "f32"])
        try run(["merge", work + "/dequantized.gguf", Self.surgery + "/lora", "-o", work + "/merged-f32.gguf"])
        try run(["convert", work + "/merged-f32.gguf", work + "/requantized.gguf", "--dtype", type])
        let merged = GGUFMergeCLITests.bytes(work + "/merged.gguf")
        #expect(merged != nil && merged == GGUFMergeCLITests.bytes(work + "/requantized.gguf"))
        #expect(merged != GGUFMergeCLITests.bytes(base))
    }

    /// K-quant fixture (gguf-py blocks): Q4_K is quantized back exactly as convert --dtype q4_k would
    /// quantize the Float32 merge; Q2_K and IQ2_XXS (no quantizer) are refused, or written as f16 with
    /// --requant-fallback; the reported requantization error is ‖requantized − merged‖ / ‖ΔW‖.
    @Test func kQuantBaseWithFallback() throws {
        let work = try temporaryFolder("gguf-merge-kquant")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let base = Self.quantized + "/quant_base.gguf", adapter = Self.quantized + "/quant_lora.gguf"
        let output = work + "/merged.gguf"

        let refused = try ckpt(["merge", base, adapter, "-o", output])
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("'blk.0.ffn_up.weight' is Q2_K") && refused.stderr.contains("--requant-fallback"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try ckpt(["merge", base, adapter, "-o", output, "--requant-fallback", "q4_0"]).status == 2)
        // The residual keeps the quantized tensors' original blocks (ResidualRoundTripCLITests restores them).
        let residual = try ckpt(["merge", base, adapter, "-o", work + "/r.gguf", "--requant-fallback", "f16", "--residual", work + "/r.safetensors", "--json"])
        #expect(residual.status == 0, "\(residual.stderr)")
        let inspectResidual = try ckpt(["inspect", work + "/r.safetensors", "--tensors"])
        #expect(inspectResidual.stdout.contains("original.blk.0.attn_v.weight") && inspectResidual.stdout.contains("original.blk.0.ffn_up.weight"), "\(inspectResidual.stdout)")

        let run = try ckpt(["merge", base, adapter, "-o", output, "--requant-fallback", "f16", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        let q4k = try #require(tensors.first { $0["tensor"] as? String == "blk.0.attn_v.weight" })
        let q2k = try #require(tensors.first { $0["tensor"] as? String == "blk.0.ffn_up.weight" })
        let iq2 = try #require(tensors.first { $0["tensor"] as? String == "blk.0.ffn_gate.weight" })
        #expect(q2k["requantization_relative"] == nil && iq2["requantization_relative"] == nil)
        let reportedRelative = try #require(q4k["requantization_relative"] as? Double)
        let inspect = try ckpt(["inspect", output, "--tensors"])
        #expect(inspect.stdout.contains("blk.0.attn_v.weight     Q4_K") && inspect.stdout.contains("blk.0.ffn_up.weight     F16"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("blk.0.ffn_gate.weight   F16"), "\(inspect.stdout)")

        // The Float32 merge of the dequantized base, by separate commands.
        let dequantized = work + "/dequantized.gguf"
        #expect(try ckpt(["convert", base, dequantized, "--dtype", "f32", "--quiet"]).status == 0)
        let mergedF32 = work + "/merged-f32.gguf"
        #expect(try ckpt(["merge", dequantized, adapter, "-o", mergedF32, "--quiet"]).status == 0)
        let requantized = work + "/requantized.gguf"
        #expect(try ckpt(["convert", mergedF32, requantized, "--dtype-map", "attn_v=q4_k", "--quiet"]).status == 0)
        let (got, exact, original, reference) = try (floats(output, in: work), floats(mergedF32, in: work), floats(dequantized, in: work), floats(requantized, in: work))
        let name = "blk.0.attn_v.weight"
        #expect(got[name]?.map(\.bitPattern) == reference[name]?.map(\.bitPattern))
        let m = try #require(exact[name]), w = try #require(original[name]), q = try #require(got[name])
        let requantError = zip(q, m).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let delta = zip(m, w).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        #expect(delta > 0 && abs(reportedRelative - requantError / delta) <= 1e-4 * reportedRelative, "\(reportedRelative) vs \(requantError / delta)")
        // Q2_K and IQ2_XXS fallback: one rounding into f16 of the same sum, so within half an f16 ulp of the
        // f32 merge (+ its own rounding).
        for fallback in ["blk.0.ffn_up.weight", "blk.0.ffn_gate.weight"] {
            let f16 = try #require(got[fallback]), f32 = try #require(exact[fallback]), before = try #require(original[fallback])
            #expect(f16.count == 2048 && f32 != before, "\(fallback)")
            for (value, target) in zip(f16, f32) {
                #expect(abs(Double(value) - Double(target)) <= Double(Float16(target).ulp) / 2 + Double(target.ulp), "\(fallback): \(value) vs \(target)")
            }
        }
    }
}

/// gguf-py reads ckpt's merge into a Q8_0 base and finds it within the Q8_0 bound of a float64 merge
/// it computes itself from the base and the GGUF adapter (fixtures/surgery-gguf/read_back.py), and the
/// unchanged tensors byte-identical. Needs a Python with gguf (CKPT_PYTHON); required when
/// CKPT_REQUIRE_PYTHON=1 (CI).
@Suite struct GGUFQuantizedMergeInteropTests {
    static let python = pythonImporting("gguf, numpy")

    static var enabled: Bool { python != nil || ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    @Test(.enabled(if: enabled, "no Python with gguf: set CKPT_PYTHON"))
    func ggufPyReadsQuantizedMerge() throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with gguf (set CKPT_PYTHON)")
        let (work, base, adapter, merged) = try GGUFMergeCLITests.q8Merge("gguf-merge-interop")
        defer { try? FileManager.default.removeItem(atPath: work) }
        for (file, accepted) in [(merged, true), (base, false)] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [repositoryFixtures + "/surgery-gguf/read_back.py", base, adapter, file]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect((process.terminationStatus == 0) == accepted, "\(file): \(text)")
            if accepted { #expect(text.contains("\"changed\": 14"), "\(text)") }
        }
    }
}
