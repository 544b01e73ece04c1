import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// A Python that can import gguf-py (the reference package), or nil.
func pythonWithGGUF() -> String? {
    let candidates = [ProcessInfo.processInfo.environment["CKPT_PYTHON"], "python3"].compactMap { $0 }
    for candidate in candidates {
        if let result = try? runProcess(candidate, ["-c", "import gguf, numpy"]), result.status == 0 { return candidate }
    }
    return nil
}

/// gguf-py judges what ckpt writes: its reader must see the same keys (types and value bytes), tensors
/// (type, ne, offset, data) as ours, and its writer, fed what its reader saw, must give our bytes.
/// Skipped without gguf-py, unless CKPT_REQUIRE_PYTHON=1 (CI), where that is a failure.
@Suite struct GGUFInteropTests {
    static let python = pythonWithGGUF()
    static let script = fixturesFolder + "/gguf/gguf_check.py"
    static var available: Bool { python != nil || ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    func requirePython() throws -> String {
        try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with gguf (set CKPT_PYTHON)")
    }

    /// Checks `path` (a GGUF file written by ckpt) against gguf-py's reading of it.
    func expectGGUFPyAgrees(_ python: String, _ path: String, rewrite: Bool = true) throws {
        let result = try runProcess(python, [Self.script, "dump", path])
        #expect(result.status == 0, "\(path): \(result.stderr)")
        let dump = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ours = try GGUFReader(path: path)
        let kvs = try #require(dump["kv"] as? [[String: Any]])
        #expect(kvs.map { $0["key"] as? String ?? "" } == ours.header.metadata.entries.map(\.key))
        for (entry, reference) in zip(ours.header.metadata.entries, kvs) {
            var raw: [UInt8] = []
            try GGUFEncoding.appendValue(entry.value, key: entry.key, file: path, to: &raw)
            #expect((reference["types"] as? [String])?.first == entry.value.type.name)
            #expect(GGUFFixtureTests.hex(raw) == reference["raw"] as? String, "\(entry.key)")
        }
        let tensors = try #require(dump["tensors"] as? [[String: Any]])
        #expect(tensors.map { $0["name"] as? String ?? "" } == ours.tensors.map(\.name))
        for (index, reference) in tensors.enumerated() where index < ours.tensors.count {
            #expect(reference["type"] as? String == GGMLType.name(of: ours.tensors[index].dtype))
            // gguf-py sizes Q8_1 at 40 bytes a block (ggml: 36), so its view of that tensor's data differs.
            if ours.tensors[index].dtype == .q8_1 { continue }
            #expect(reference["ne"] as? [Int] == ours.tensors[index].shape.reversed())
            #expect(reference["data_offset"] as? Int == ours.location(of: index).offset)
            #expect(reference["sha256"] as? String == SHA256.hex(try ours.data(at: index).bytes), "\(ours.tensors[index].name)")
        }
        guard rewrite else { return }
        let reference = path + ".reference.gguf"
        let rewritten = try runProcess(python, [Self.script, "rewrite", path, reference])
        #expect(rewritten.status == 0, "\(rewritten.stderr)")
        #expect(try fileBytes(reference) == fileBytes(path), "GGUFWriter wrote other bytes for \(path)")
        try? FileManager.default.removeItem(atPath: reference)
    }

    @Test(.enabled(if: available, "no Python with gguf: set CKPT_PYTHON to run the GGUF interop tests"))
    func ggufPyReadsOurConversions() throws {
        let python = try requirePython()
        let temporary = try makeTemporaryFolder("gguf-interop")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        for name in ["small_model", "escapes", "single_f32", "unicode_names", "scalar_and_empty"] {
            let output = temporary + "/\(name).gguf"
            try convertCheckpoint(fixturesFolder + "/safetensors/\(name).safetensors", output)
            try expectGGUFPyAgrees(python, output)
        }
        let f16 = temporary + "/small_f16.gguf"
        try convertCheckpoint(fixturesFolder + "/safetensors/small_model.safetensors", f16, dtype: .f16)
        try expectGGUFPyAgrees(python, f16)
        #expect(try GGUFReader(path: f16).header.metadata["general.file_type"] == .uint32(1))
        for name in ["all_types", "llama_tiny", "lora", "align_1", "align_64", "all_kv_types"] {
            let output = temporary + "/copy_\(name).gguf"
            try convertCheckpoint(fixturesFolder + "/gguf/\(name).gguf", output)
            // gguf-py's reader flattens arrays of arrays, so it cannot rewrite that one file.
            try expectGGUFPyAgrees(python, output, rewrite: name != "all_kv_types" && name != "all_types")
        }
    }

    @Test(.enabled(if: available, "no Python with gguf: set CKPT_PYTHON to run the GGUF interop tests"))
    func ggufPyReadsOurSplitParts() throws {
        let python = try requirePython()
        let temporary = try makeTemporaryFolder("gguf-interop-split")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let outputs = try convertCheckpoint(fixturesFolder + "/gguf/llama_tiny.gguf", temporary + "/tiny.gguf", split: (20_000, 0))
        #expect(outputs.count == 5)
        for output in outputs { try expectGGUFPyAgrees(python, output) }
        let joined = try Checkpoint.open(outputs[2])
        let original = try Checkpoint.open(fixturesFolder + "/gguf/llama_tiny.gguf")
        #expect(joined.tensors == original.tensors)
        for index in joined.tensors.indices {
            #expect(Array(try joined.data(at: index).bytes) == Array(try original.data(at: index).bytes))
        }
    }

    /// transformers' own GGUF loader reads ckpt's `--arch llama` output and gets the Hugging Face
    /// weights back exactly (it undoes the Q/K permutation independently of ckpt).
    @Test(.enabled(if: available, "no Python with gguf: set CKPT_PYTHON to run the GGUF interop tests"))
    func transformersLoadsOurLlamaGGUF() throws {
        let python = try requirePython()
        let temporary = try makeTemporaryFolder("gguf-transformers")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let output = temporary + "/tiny.gguf"
        _ = try GGUFLlamaTests().convert(fixturesFolder + "/gguf/hf_llama", output, vocab: fixturesFolder + "/gguf/llama_tiny.gguf")
        let result = try runProcess(python, [Self.script, "transformers", output, fixturesFolder + "/gguf/hf_llama/model.safetensors"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["checked"] as? Int == 21)
        #expect((report["different"] as? [String]) == [])
        try expectGGUFPyAgrees(python, output)
        // And back: ckpt's GGUF → Hugging Face folder (weights + config.json) loads with from_pretrained.
        let folder = temporary + "/hf"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let back = try GGUFLlamaTests().convertWithSidecar(output, folder + "/model.safetensors")
        let loaded = try runProcess(python, [Self.script, "transformers", folder, fixturesFolder + "/gguf/hf_llama/model.safetensors"])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let backReport = try #require(try JSONSerialization.jsonObject(with: Data(loaded.stdout.utf8)) as? [String: Any])
        #expect(backReport["checked"] as? Int == 21 && (backReport["different"] as? [String]) == [])
        #expect(back.contains("config.json"))
        let adapter = temporary + "/adapter.gguf"
        _ = try GGUFLoRATests().convert(adapter)
        try expectGGUFPyAgrees(python, adapter)
        // GGUF LoRA → PEFT: peft merges it into the base exactly as it merges the original adapter.
        try GGUFLoRATests().toPEFT(temporary + "/peft")
        let merged = try runProcess(python, [Self.script, "peft", fixturesFolder + "/gguf/hf_llama", fixturesFolder + "/gguf/peft_lora", temporary + "/peft"])
        #expect(merged.status == 0, "\(merged.stderr)")
        let comparison = try #require(try JSONSerialization.jsonObject(with: Data(merged.stdout.utf8)) as? [String: Any])
        #expect(comparison["tensors_differing"] as? Int == 0)
        #expect(comparison["max_abs_diff"] as? Double == 0)
    }
}
