import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

/// The PyTorch part of `ckpt bench`: the benchmark checkpoint written as a torch.save zip (by ckpt's
/// writer, byte-identical to torch.save's), then converted to safetensors by `ckpt convert` and, when a
/// Python with torch and safetensors is found, by `torch.load(mmap=True)` + `safetensors.torch.save_file`
/// (+ fsync, as ckpt fsyncs), all interleaved with the same runs; Python's bare `import torch` is timed
/// too, so that its share is visible.
enum BenchTorch {
    struct Result {
        var torchFileBytes: Int
        var ckpt: BenchMeasurement
        var python: BenchMeasurement?
        var pythonImport: BenchMeasurement?
        var pythonPath: String?
    }

    static let script = """
    import os, sys, torch, safetensors.torch as st
    state = torch.load(sys.argv[1], weights_only=True, mmap=True)
    st.save_file(state, sys.argv[2], metadata={"format": "pt"})
    fd = os.open(sys.argv[2], os.O_RDONLY); os.fsync(fd); os.close(fd)
    """

    /// A Python that imports torch and safetensors: $CKPT_PYTHON, the project's venv, or python3.
    static func findPython() -> String? {
        var candidates: [String] = []
        if let explicit = getenv("CKPT_PYTHON") { candidates.append(String(cString: explicit)) }
        if let home = getenv("HOME") { candidates.append(String(cString: home) + "/.cache/ckpt/venv/bin/python") }
        candidates += ["/usr/bin/python3", "/usr/local/bin/python3"]
        for candidate in candidates where access(candidate, X_OK) == 0 {
            if (try? BenchProcess.run([candidate, "-c", "import torch, safetensors"], label: "python check")) != nil { return candidate }
        }
        return nil
    }

    static func measure(_ model: BenchModel, in folder: BenchFolder, runs: Int, status: BenchStatus) throws -> Result {
        let torchPath = folder.file("model.bin")
        status.show("writing the checkpoint as a torch.save zip")
        let reader = try SafeTensorsReader(path: model.path)
        let plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
        try Converter(reader: reader, plan: plan).run(into: try TorchWriter(destination: torchPath, tensors: plan.outputTensors, overwrite: true))
        try BenchPageCache.warm(torchPath)
        let ckpt = try BenchProcess.selfExecutable()
        let output = folder.file("from-torch.safetensors")
        let python = findPython()
        var cases: [(label: String, arguments: [String], writes: Bool)] = [
            ("ckpt convert torch → safetensors", [ckpt, "convert", torchPath, output, "--quiet"], true),
        ]
        if let python {
            cases.append(("python torch.load + save_file", [python, "-c", script, torchPath, output], true))
            cases.append(("python: import torch only", [python, "-c", "import torch, safetensors.torch"], false))
        }
        var results = cases.map { BenchMeasurement(label: $0.label) }
        defer { unlink(output) }
        for round in 0...runs {
            for (index, item) in cases.enumerated() {
                status.show(round == 0 ? "warm-up: \(item.label)" : "run \(round)/\(runs): \(item.label)")
                unlink(output)
                sync()
                let result = try BenchProcess.run(item.arguments, label: item.label)
                if item.writes {
                    var info = stat()
                    guard stat(output, &info) == 0, Int(info.st_size) >= model.tensorBytes else {
                        throw BenchProcess.Failure(description: "\(item.label) did not write the expected safetensors file")
                    }
                }
                if round > 0 { results[index].runs.append(result) }
            }
        }
        let size = (try? ReadOnlyFile(path: torchPath).size) ?? 0
        unlink(torchPath)
        return Result(torchFileBytes: size, ckpt: results[0], python: python == nil ? nil : results[1],
                      pythonImport: python == nil ? nil : results[2], pythonPath: python)
    }
}
