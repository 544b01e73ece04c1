import Foundation
import Testing

@Suite struct VerifyCLITests {
    private func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Digests equal Python's hashlib figures recorded by the fixture script; NaN/∞ counts are those
    /// of the values numpy and ml_dtypes wrote; any NaN/∞ makes exit status 1.
    @Test func allDTypesDigestsAndNonFiniteCounts() throws {
        let run = try ckpt(["verify", repositoryFixtures + "/safetensors/all_dtypes.safetensors", "--json", "--sha256"])
        #expect(run.status == 1)
        let report = try object(run.stdout)
        let expected = try object(try String(contentsOfFile: repositoryFixtures + "/safetensors/expected.json", encoding: .utf8))
        let fixture = try #require(expected["all_dtypes.safetensors"] as? [String: Any])
        let digests = Dictionary(uniqueKeysWithValues: try #require(fixture["tensors"] as? [[String: Any]]).map { ($0["name"] as! String, $0["sha256"] as! String) })
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        #expect(tensors.count == 15)
        for tensor in tensors {
            let name = try #require(tensor["name"] as? String)
            #expect(tensor["sha256"] as? String == digests[name], "\(name)")
        }
        let counts = Dictionary(uniqueKeysWithValues: tensors.compactMap { tensor -> (String, [Int])? in
            guard let nan = tensor["nan"] as? Int, let inf = tensor["inf"] as? Int else { return nil }
            return (tensor["name"] as! String, [nan, inf])
        })
        // specials = 0, -0, 1, -2.5, inf, -inf, nan, 1e-8, 65504, 3e38 (f16 ends with inf instead of 3e38;
        // f8_e4m3fn has no infinity and overflows to NaN; f8_e5m2 overflows 65504 and 3e38 to infinity).
        #expect(counts == ["f64": [1, 2], "f32": [1, 2], "bf16": [1, 2], "f16": [1, 3], "f8_e4m3": [5, 0], "f8_e5m2": [1, 4]])
        let problems = try #require(report["problems"] as? [[String: Any]])
        #expect(problems.count == 6)
        #expect(problems.first?["message"] as? String == "1 NaN and 2 infinite values among 11")
        #expect(report["ok"] as? Bool == false)
        #expect(report["checked_bytes"] as? Int == 262)
    }

    @Test func cleanFilesExitZero() throws {
        for path in ["/safetensors/small_model.safetensors", "/gguf/quant_reference.gguf", "/torch/sd_tied.pt", "/safetensors/sharded", "/torch/sharded", "/gguf/split/tiny-00002-of-00003.gguf", "/zstd/small_model.safetensors.zst"] {
            let run = try ckpt(["verify", repositoryFixtures + path])
            #expect(run.status == 0, "\(path): \(run.stderr)")
            #expect(run.stdout.contains("result       OK, no problems found"), "\(path)")
        }
        let torch = try ckpt(["verify", repositoryFixtures + "/torch/sd_tied.pt", "--json"])
        #expect(try object(torch.stdout)["zip_records_checked"] as? Int ?? 0 > 0)
    }

    /// Every quantized tensor of the GGUF fixture is dequantized and scanned.
    @Test func ggmlBlocksAreScanned() throws {
        let run = try ckpt(["verify", repositoryFixtures + "/gguf/quant_reference.gguf", "--json"])
        let tensors = try #require(try object(run.stdout)["tensors"] as? [[String: Any]])
        #expect(!tensors.isEmpty)
        for tensor in tensors { #expect(tensor["nan"] as? Int == 0, "\(tensor["name"] ?? "")") }
    }

    @Test func unopenableInputExitsThree() throws {
        let run = try ckpt(["verify", repositoryFixtures + "/torch/truncated.pt"])
        #expect(run.status == 3)
        #expect(run.stderr.hasPrefix("ckpt: error: "))
        #expect(run.stdout.isEmpty)
    }
}
