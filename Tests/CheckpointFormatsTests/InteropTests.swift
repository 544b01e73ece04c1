import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// The real `safetensors` package judges what ckpt writes. Skipped (with the reason) when no Python
/// with safetensors is found, unless CKPT_REQUIRE_PYTHON=1 (as in CI), where that is a failure.
@Suite struct InteropTests {
    static let python = pythonWithSafetensors()
    static let script = fixturesFolder + "/interop_check.py"

    static var available: Bool {
        if python == nil && ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" { return true }
        return python != nil
    }

    func requirePython() throws -> String {
        try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with safetensors (set CKPT_PYTHON)")
    }

    @Test(.enabled(if: available, "no Python with safetensors+numpy: set CKPT_PYTHON to run the interop tests"))
    func referenceReaderLoadsWhatWeConvert() throws {
        let python = try requirePython()
        let temporary = try makeTemporaryFolder("interop")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        for (dtype, name) in [(DType.f16, "f16"), (.f32, "f32"), (.bf16, "bf16"), (.f8E4M3, "f8")] {
            let reader = try Checkpoint.open(fixturesFolder + "/safetensors/all_dtypes.safetensors")
            let plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: dtype, intDType: nil)
            let output = temporary + "/\(name).safetensors"
            let writer = try SafeTensorsWriter(destination: output, metadata: [("format", "pt"), ("note", "é\n/")], tensors: plan.outputTensors, overwrite: false)
            try Converter(reader: reader, plan: plan).run(into: writer)
            let result = try runProcess(python, [Self.script, "load", output])
            #expect(result.status == 0, "\(result.stderr)")
            let loaded = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(loaded["metadata"] as? [String: String] == ["format": "pt", "note": "é\n/"])
            let tensors = try #require(loaded["tensors"] as? [[String: Any]])
            let ours = try SafeTensorsReader(path: output)
            #expect(tensors.count == ours.tensors.count)
            let digests = Dictionary(uniqueKeysWithValues: try ours.tensors.indices.map { (ours.tensors[$0].name, SHA256.hex(try ours.data(at: $0).bytes)) })
            for tensor in tensors {
                let tensorName = try #require(tensor["name"] as? String)
                #expect(digests[tensorName] == tensor["sha256"] as? String, "\(name): \(tensorName)")
            }
        }
    }

    @Test(.enabled(if: available, "no Python with safetensors+numpy: set CKPT_PYTHON to run the interop tests"))
    func writerIsByteIdenticalToReferenceWriter() throws {
        let python = try requirePython()
        let temporary = try makeTemporaryFolder("identical")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        // Content of our choosing: mixed dtypes, awkward names, escapes in metadata, an empty tensor.
        var tensors: [(TensorInfo, [UInt8])] = []
        var state: UInt64 = 42
        func bytes(_ count: Int) -> [UInt8] {
            (0..<count).map { _ in state = state &* 6_364_136_223_846_793_005 &+ 1; return UInt8(truncatingIfNeeded: state >> 56) }
        }
        for (index, (name, dtype, shape)) in [
            ("model.layers.0.q_proj.weight", DType.bf16, [8, 4]), ("é", .f32, [3]), ("e\u{301}", .f32, [3]),
            ("ids", .i64, [5]), ("mask", .u8, [7]), ("scale", .f16, []), ("empty", .f32, [0, 4]), ("Z/w\"q", .f64, [2]),
            ("b", .i32, [1, 1, 2]), ("f8", .f8E5M2, [6]),
        ].enumerated() {
            let info = try TensorInfo(name: name, dtype: dtype, shape: shape)
            _ = index
            tensors.append((info, bytes(info.byteCount)))
        }
        // NaN bit patterns are fine: the tensors are raw bytes on both sides.
        let dataFile = temporary + "/data.bin"
        var blob: [UInt8] = []
        var specTensors: [[String: Any]] = []
        for (info, data) in tensors {
            specTensors.append(["name": info.name, "dtype": SafeTensorsDType.name(of: info.dtype), "shape": info.shape, "data_file": dataFile, "offset": blob.count])
            blob += data
        }
        try writeBytes(blob, to: dataFile)
        let metadata: [(key: String, value: String)] = [("format", "pt")]
        let spec: [String: Any] = ["metadata": ["format": "pt"], "tensors": specTensors]
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: temporary + "/spec.json"))
        let result = try runProcess(python, [Self.script, "save", temporary + "/spec.json", temporary + "/reference.safetensors"])
        #expect(result.status == 0, "\(result.stderr)")
        try writeSafeTensors(temporary + "/ours.safetensors", metadata: metadata, tensors)
        #expect(try fileBytes(temporary + "/ours.safetensors") == fileBytes(temporary + "/reference.safetensors"))
    }
}
