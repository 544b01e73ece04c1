import Testing
import Foundation
@testable import CheckpointSurgery

/// The real safetensors package (numpy) reads what ckpt merge writes, and finds it equal to PEFT's own
/// merge bit for bit (f32 LoRA). Skipped without a Python that has safetensors, numpy and ml_dtypes,
/// unless CKPT_REQUIRE_PYTHON=1 (CI), where that is a failure.
@Suite struct ReadBackInteropTests {
    static let python: String? = {
        let candidates = [ProcessInfo.processInfo.environment["CKPT_PYTHON"], NSHomeDirectory() + "/.cache/ckpt/venv/bin/python", "python3"].compactMap { $0 }
        return candidates.first { (try? run($0, ["-c", "import safetensors, numpy, ml_dtypes"]))?.status == 0 }
    }()
    static var enabled: Bool { python != nil || ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.contains("/") ? executable : "/usr/bin/env")
        process.arguments = executable.contains("/") ? arguments : [executable] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test(.enabled(if: enabled, "no Python with safetensors, numpy and ml_dtypes: set CKPT_PYTHON"))
    func safetensorsReadsMergeAndResidual() throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no Python with safetensors (set CKPT_PYTHON)")
        let folder = try makeTemporaryFolder("readback")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (base, adapter, peft) in [("llama-f32", "lora", "lora.peft-merged-f32"), ("gpt2-f32", "gpt2-fan-in-fan-out", "gpt2-fan-in-fan-out.peft-merged-f32")] {
            let residual = folder + "/\(adapter).residual.safetensors"
            let (merged, _) = try merge(base: fixture(base), adapters: [fixture(adapter)], residual: residual, into: folder, name: adapter + ".safetensors")
            let result = try Self.run(python, [fixture("read_back.py"), merged, fixture(peft + ".safetensors"), residual])
            #expect(result.status == 0, "\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(report["differing_elements"] as? Int == 0, "\(adapter)")
            #expect(report["residual_kinds"] as? [String] == ["residual"])
            #expect(report["residual_dtypes"] as? [String] == ["int32"])
        }
    }
}
