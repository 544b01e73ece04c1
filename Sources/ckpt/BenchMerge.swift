#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// `ckpt bench --merge`: merging a rank-16 all-linear PEFT adapter into the benchmark checkpoint,
/// against cp + fsync of the base plus the arithmetic of the deltas, measured in the same run.
struct BenchMerge {
    static let rank = 16
    static let modules = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]

    /// Writes a PEFT folder (alpha = 2r, bf16 factors drawn like the model's weights, B non-zero).
    static func generateAdapter(in folder: String, layers: Int) throws -> String {
        try Folders.create(folder)
        let config = "{\"peft_type\": \"LORA\", \"r\": \(rank), \"lora_alpha\": \(2 * rank), \"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]}\n"
        let configFile = try AtomicOutput(destination: Paths.join(folder, "adapter_config.json"), overwrite: true)
        try Array(config.utf8).withUnsafeBytes { try configFile.write($0) }
        try configFile.commit()
        let shapes = Dictionary(uniqueKeysWithValues: BenchModel.shapes(layers: layers))
        var infos: [TensorInfo] = []
        for layer in 0..<layers {
            for module in modules {
                guard let shape = shapes["model.layers.\(layer).\(module).weight"] else { continue }
                let prefix = "base_model.model.model.layers.\(layer).\(module)"
                infos.append(try TensorInfo(name: prefix + ".lora_A.weight", dtype: .bf16, shape: [rank, shape[1]]))
                infos.append(try TensorInfo(name: prefix + ".lora_B.weight", dtype: .bf16, shape: [shape[0], rank]))
            }
        }
        let writer = try SafeTensorsWriter(destination: Paths.join(folder, "adapter_model.safetensors"), metadata: [("format", "pt")], tensors: infos, overwrite: true)
        let chunk = BF16Chunk(elements: NormalBlocks.blockElements * 4)
        for index in writer.writeOrder {
            var start = 0
            while start < infos[index].elementCount {
                let count = min(chunk.capacity, infos[index].elementCount - start)
                chunk.fill(tensor: 100_000 + index, firstElement: start, count: count)
                try writer.write(UnsafeRawBufferPointer(rebasing: chunk.bytes[0..<(count * 2)]))
                start += count
            }
        }
        try writer.finish()
        return folder
    }

    /// A plain-PyTorch merge of the same files, when a Python with torch and safetensors is found.
    static let torchScript = """
    import json, sys, torch
    from safetensors.torch import load_file, save_file
    base, adapter, out = sys.argv[1:4]
    config = json.load(open(adapter + "/adapter_config.json"))
    scale = config["lora_alpha"] / config["r"]
    weights = load_file(base)
    factors = load_file(adapter + "/adapter_model.safetensors")
    for name in factors:
        if name.endswith(".lora_A.weight"):
            module = name[len("base_model.model."):-len(".lora_A.weight")]
            a = factors[name].float()
            b = factors[name.replace("lora_A", "lora_B")].float()
            w = weights[module + ".weight"]
            weights[module + ".weight"] = (w.float() + (b @ a) * scale).to(w.dtype)
    save_file(weights, out, metadata={"format": "pt"})
    """

    static func torchPython() -> String? {
        var candidates: [String] = []
        if let explicit = getenv("CKPT_PYTHON") { candidates.append(String(cString: explicit)) }
        if let home = getenv("HOME") { candidates.append(String(cString: home) + "/.cache/ckpt/venv/bin/python") }
        for candidate in candidates where access(candidate, X_OK) == 0 {
            if (try? BenchProcess.run([candidate, "-c", "import torch, safetensors"], label: "python check")) != nil { return candidate }
        }
        return nil
    }

    struct Result {
        var cpSync: BenchMeasurement
        var merge: BenchMeasurement
        /// The same merge writing through the page cache (`--page-cache`), for comparison.
        var pageCacheMerge: BenchMeasurement
        var torch: BenchMeasurement?
        /// In-process time to form every ΔW once (median), and the elements formed.
        var deltaSeconds: Double
        var deltaElements: Int
        var largestTensor: Int

        var baseline: Double { cpSync.seconds + deltaSeconds }
        var ratio: Double { merge.seconds / baseline }
        var rssBudget: Int { 2 * largestTensor + 100 * 1024 * 1024 }
        var rss: Int { merge.sampledPeak ?? merge.maxRSS }

        var text: String {
            func seconds(_ value: Double) -> String { ByteSize.formatted(value, decimals: 3) }
            var rows: [[String]] = [["command", "median s", "min–max s", "÷ (cp+fsync + ΔW)", "user s", "sys s", "ru_maxrss", "own peak"]]
            for m in [cpSync, merge, pageCacheMerge] + (torch.map { [$0] } ?? []) {
                rows.append([m.label, seconds(m.seconds), "\(seconds(m.fastest))–\(seconds(m.slowest))", ByteSize.formatted(m.seconds / baseline, decimals: 2),
                             seconds(m.userSeconds), seconds(m.systemSeconds), ByteSize.describe(m.maxRSS), m.sampledPeak.map(ByteSize.describe) ?? "-"])
            }
            var out = "\nmerge       rank-\(BenchMerge.rank) PEFT adapter on all 7 linear projections (alpha = 2r, bf16 factors)\n"
            out += "ΔW          forming all \(Numbers.grouped(deltaElements)) delta elements in process: \(seconds(deltaSeconds)) s (median)\n\n"
            out += Numbers.table(rows)
            if torch == nil { out += "plain-torch merge not measured: no Python with torch and safetensors (set CKPT_PYTHON)\n" }
            out += "\n" + (ratio <= 1.3 ? "met     " : "MISSED  ") + "merge ≤ 1.3 × (cp+fsync + ΔW) (\(ByteSize.formatted(ratio, decimals: 2)))\n"
            out += (rss <= rssBudget ? "met     " : "MISSED  ") + "merge peak RSS ≤ 2 × largest tensor + 100 MiB (\(ByteSize.describe(rss)) of \(ByteSize.describe(rssBudget)))\n"
            return out
        }

        var json: JSONValue {
            func number(_ value: Double) -> JSONValue { value.isFinite ? .number(ByteSize.formatted(value, decimals: 4)) : .null }
            func entry(_ m: BenchMeasurement) -> JSONValue {
                .object([
                    JSONMember("command", .string(m.label)),
                    JSONMember("median_seconds", number(m.seconds)),
                    JSONMember("runs_seconds", .array(m.runs.map { number($0.seconds) })),
                    JSONMember("ratio_to_baseline", number(m.seconds / baseline)),
                    JSONMember("median_user_seconds", number(m.userSeconds)),
                    JSONMember("median_system_seconds", number(m.systemSeconds)),
                    JSONMember("ru_maxrss_bytes", .number(String(m.maxRSS))),
                    JSONMember("sampled_peak_rss_bytes", m.sampledPeak.map { .number(String($0)) } ?? .null),
                ])
            }
            return .object([
                JSONMember("rank", .number(String(BenchMerge.rank))),
                JSONMember("delta_seconds", number(deltaSeconds)),
                JSONMember("delta_elements", .number(String(deltaElements))),
                JSONMember("baseline_seconds", number(baseline)),
                JSONMember("ratio", number(ratio)),
                JSONMember("rss_budget_bytes", .number(String(rssBudget))),
                JSONMember("measurements", .array(([cpSync, merge, pageCacheMerge] + (torch.map { [$0] } ?? [])).map(entry))),
            ])
        }
    }

    /// Runs cp + fsync, ckpt merge (direct and through the page cache) and (if available) the torch
    /// merge `repeat` times, interleaved.
    static func measure(model: BenchModel, layers: Int, folder: BenchFolder, repeat count: Int, status: BenchStatus) throws -> Result {
        status.show("generating the rank-\(rank) adapter")
        let adapter = try generateAdapter(in: folder.file("adapter"), layers: layers)
        let ckpt = try BenchProcess.selfExecutable()
        let output = folder.file("merged.safetensors")
        defer { unlink(output) }
        var cases: [(label: String, arguments: [String], fsync: Bool)] = [
            ("cp + fsync", ["/bin/cp", model.path, output], true),
            ("ckpt merge", [ckpt, "merge", model.path, adapter, "-o", output, "--force", "--quiet"], false),
            ("ckpt merge --page-cache", [ckpt, "merge", model.path, adapter, "-o", output, "--force", "--quiet", "--page-cache"], false),
        ]
        if let python = torchPython() {
            let script = folder.file("torch_merge.py")
            let file = try AtomicOutput(destination: script, overwrite: true)
            try file.write(Array(torchScript.utf8))
            try file.commit()
            cases.append(("torch merge (python)", [python, script, model.path, adapter, output], false))
        }
        var results = cases.map { BenchMeasurement(label: $0.label) }
        for round in 0...count {
            for (index, item) in cases.enumerated() {
                status.show(round == 0 ? "warm-up: \(item.label)" : "run \(round)/\(count): \(item.label)")
                unlink(output)
                sync()
                let result = try BenchProcess.run(item.arguments, label: item.label, fsyncing: item.fsync ? output : nil)
                var info = stat()
                guard stat(output, &info) == 0, Int(info.st_size) >= model.tensorBytes else {
                    throw BenchProcess.Failure(description: "\(item.label) did not write the expected output")
                }
                if round > 0 { results[index].runs.append(result) }
            }
        }
        status.show("forming the deltas in process")
        let job = try MergeJob(basePath: model.path, adapters: [try Adapter.load(path: adapter)], weights: [1], options: .init())
        var times: [Double] = []
        var elements = 0
        for _ in 0..<count {
            let start = Clock.now()
            elements = try job.formAllDeltas()
            times.append(Clock.now() - start)
        }
        return Result(cpSync: results[0], merge: results[1], pageCacheMerge: results[2], torch: results.count > 3 ? results[3] : nil,
                      deltaSeconds: BenchStatistics.median(times), deltaElements: elements, largestTensor: model.largestTensor)
    }
}
