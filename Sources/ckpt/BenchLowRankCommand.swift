import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
import CheckpointSurgery
#if canImport(Glibc)
import Glibc
#endif

/// The low-rank benchmark of docs/BENCHMARKS.md: `ckpt rank` and `ckpt resize` on the benchmark
/// model's rank-64 PEFT adapter against the dense method they replace (form ΔW, full SVD), and
/// extraction at rank 32 against a dense SVD of the same deltas, all in the same run.
struct BenchLowRankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-lowrank",
        abstract: "Benchmark factor SVD (rank, resize) and randomized extraction against dense SVD.",
        shouldDisplay: false
    )

    @Option(name: .long, help: "Decoder layers of the benchmark model's adapter (7 modules each).")
    var layers = 1

    @Option(name: .long, help: "Rank of the generated adapter.")
    var rank = 64

    @Option(name: .customLong("resize-rank"), help: "Rank resize keeps.")
    var resizeRank = 16

    @Option(name: .customLong("extract-rank"), help: "Rank extraction keeps.")
    var extractRank = 32

    @Option(name: .customLong("power-iterations"), help: "Power iterations of the extraction's randomized SVD.")
    var powerIterations = 2

    func run() throws {
        let folder = "/tmp/ckpt-bench-lowrank-\(getpid())"
        try Folders.create(folder)
        defer { _ = try? BenchLowRankFolder.remove(folder) }
        // The benchmark model's seven projections per layer, [out, in].
        let hidden = 2048, intermediate = 5632, keyValue = 256
        let shapes: [(String, Int, Int)] = [("self_attn.q_proj", hidden, hidden), ("self_attn.k_proj", keyValue, hidden), ("self_attn.v_proj", keyValue, hidden),
                                            ("self_attn.o_proj", hidden, hidden), ("mlp.gate_proj", intermediate, hidden), ("mlp.up_proj", intermediate, hidden),
                                            ("mlp.down_proj", hidden, intermediate)]
        var random = SeededGaussian(seed: 20_261_201)
        var modules: [LoRAOutput.Module] = []
        for layer in 0..<layers {
            for (name, out, inputs) in shapes {
                var a = random.matrix(rows: rank, columns: inputs), b = random.matrix(rows: out, columns: rank)
                for i in a.elements.indices { a.elements[i] *= 0.02 }
                for i in b.elements.indices { b.elements[i] *= 0.02 }
                modules.append(LoRAOutput.Module(module: "model.layers.\(layer).\(name)", kind: .linear, kernel: [], b: b, a: a, alpha: Double(2 * rank)))
            }
        }
        let adapterFolder = folder + "/adapter"
        try PEFTAdapterWriter.write(LoRAOutput(modules: modules, dtype: .bf16), folder: adapterFolder, template: nil, overwrite: false)
        print("adapter: \(modules.count) modules, rank \(rank), bf16 (\(layers) layer(s) of the benchmark model); load average \(Self.loadAverage()) at the start")

        var start = Clock.now()
        let report = try RankReport(adapter: try Adapter.load(path: adapterFolder))
        let rankSeconds = Clock.now() - start
        start = Clock.now()
        let adapter = try Adapter.load(path: adapterFolder)
        let resize = try ResizeOperation(adapter: adapter, selection: .rule(.fixed(resizeRank), maxRank: resizeRank), dtype: .bf16, useRSLoRA: false)
        try AdapterOutputWriter.write(resize.output, layout: adapter.format, to: folder + "/resized",
                                      options: .init(peftTemplate: try AdapterSource.peftConfigJSON(adapter)), overwrite: false)
        let resizeSeconds = Clock.now() - start

        // Baseline: form each ΔW densely and run a full SVD (what kohya and PEFT do), and extraction
        // of the same ΔW at the extraction rank.
        var denseSeconds = 0.0, extractSeconds = 0.0, formSeconds = 0.0
        // CPU seconds of the process (all BLAS threads): on a shared machine, a ratio less
        // dependent on how much of the machine each step got.
        var denseCPU = 0.0, extractCPU = 0.0
        var cpu = Self.cpuSeconds()
        var worstSigma = 0.0, worstRatio = 0.0
        var methods: [String: Int] = [:]
        for (delta, module) in zip(adapter.deltas, report.modules) {
            guard let block = delta.blocks.first else { continue }
            start = Clock.now()
            let dense = try GEMM.product(block.b, .none, block.a, .none, alpha: Float(block.scale))
            formSeconds += Clock.now() - start
            start = Clock.now()
            cpu = Self.cpuSeconds()
            let full = try ThinSVD(dense)
            denseSeconds += Clock.now() - start
            denseCPU += Self.cpuSeconds() - cpu
            for i in 0..<rank {
                worstSigma = max(worstSigma, abs(Double(full.sigma[i]) - module.spectrum.sigma[i]) / Double(full.sigma[0]))
            }
            start = Clock.now()
            cpu = Self.cpuSeconds()
            let extracted = try DeltaDecomposition(dense, choice: .rank(extractRank), maxRank: extractRank, powerIterations: powerIterations, tolerance: 1.01)
            extractSeconds += Clock.now() - start
            extractCPU += Self.cpuSeconds() - cpu
            methods[extracted.method.rawValue, default: 0] += 1
            let optimal = full.sigma.dropFirst(extractRank).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            worstRatio = max(worstRatio, extracted.error / optimal)
        }
        let lapackBaseline = formSeconds + denseSeconds
        func s(_ value: Double) -> String { ByteSize.formatted(value, decimals: 3) + " s" }
        func x(_ value: Double) -> String { ByteSize.formatted(value, decimals: 0) + "×" }
        print("dense baseline (LAPACK): form ΔW \(s(formSeconds)) + thin SVD (sgesdd) \(s(denseSeconds)) = \(s(lapackBaseline))")
        // The method users run today (kohya's resize_lora and extract_lora_from_models): torch forms ΔW
        // and calls torch.linalg.svd with its default full matrices. The goals are judged against it
        // when a Python with torch is found; the LAPACK ratios are printed beside them.
        var baseline = lapackBaseline, svdBaseline = denseSeconds, baselineName = "LAPACK"
        if let python = BenchMerge.torchPython() {
            let script = folder + "/torch_svd.py", times = folder + "/torch_svd.txt"
            let file = try AtomicOutput(destination: script, overwrite: true)
            try file.write(Array(Self.torchScript.utf8))
            try file.commit()
            _ = try BenchProcess.run([python, script, adapterFolder, times], label: "torch SVD (python)")
            let fields = (BenchProcFile.read(times) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
            guard fields.count == 3 else { throw BenchProcess.Failure(description: "torch SVD (python) wrote no timings to \(times)") }
            baseline = fields[0] + fields[1]
            svdBaseline = fields[1]
            baselineName = "torch"
            print("dense baseline (torch, \(Int(fields[2])) threads): form ΔW \(s(fields[0])) + torch.linalg.svd (full matrices) \(s(fields[1])) = \(s(baseline))")
            print("vs LAPACK: rank \(x(lapackBaseline / rankSeconds)), resize \(x(lapackBaseline / resizeSeconds)), extraction \(x(denseSeconds / extractSeconds)) faster")
        } else {
            print("torch baseline not measured: no Python with torch and safetensors (set CKPT_PYTHON); goals judged against LAPACK")
        }
        print("ckpt rank (load + factor SVD + statistics): \(s(rankSeconds)), \(x(baseline / rankSeconds)) faster; max |Δσ|/σ₁ vs dense \(formatScientific(worstSigma))")
        print("ckpt resize \(rank) → \(resizeRank) (load + factor SVD + write): \(s(resizeSeconds)), \(x(baseline / resizeSeconds)) faster")
        print("extraction at rank \(extractRank) (q = \(powerIterations)): \(s(extractSeconds)) vs dense SVD \(s(svdBaseline)) of the same ΔW, \(x(svdBaseline / extractSeconds)) faster; worst error / optimal \(ByteSize.formatted(worstRatio, decimals: 5)); methods \(methods.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("CPU time (user + sys, all threads): extraction \(s(extractCPU)), dense SVD \(s(denseCPU)), \(x(denseCPU / extractCPU))")
        print("load average \(Self.loadAverage()) (1, 5, 15 min) at the end")
        print()
        func goal(_ met: Bool, _ text: String) { print((met ? "met     " : "MISSED  ") + text) }
        goal(baseline / rankSeconds >= 300, "rank ≥ 300 × dense form + SVD, \(baselineName) (\(x(baseline / rankSeconds)))")
        goal(baseline / resizeSeconds >= 300, "resize ≥ 300 × dense form + SVD, \(baselineName) (\(x(baseline / resizeSeconds)))")
        goal(svdBaseline / extractSeconds >= 30 && worstRatio <= 1.01,
             "extraction ≥ 30 × dense SVD, \(baselineName), at ≤ 1.01 × optimal error (\(x(svdBaseline / extractSeconds)), \(ByteSize.formatted(worstRatio, decimals: 5)))")
    }

    /// Forms every ΔW of a PEFT folder in float32 and times torch.linalg.svd of it; writes
    /// "form-seconds svd-seconds threads" to the file given.
    static let torchScript = """
    import json, sys, time
    import torch
    from safetensors.torch import load_file
    folder, out = sys.argv[1], sys.argv[2]
    with open(folder + "/adapter_config.json") as f:
        config = json.load(f)
    scale = config["lora_alpha"] / config["r"]
    factors = load_file(folder + "/adapter_model.safetensors")
    form = svd = 0.0
    for name in sorted(factors):
        if name.endswith(".lora_A.weight"):
            a = factors[name].float()
            b = factors[name.replace("lora_A", "lora_B")].float()
            start = time.perf_counter()
            delta = (b @ a) * scale
            form += time.perf_counter() - start
            start = time.perf_counter()
            u, s, vh = torch.linalg.svd(delta)
            svd += time.perf_counter() - start
    with open(out, "w") as f:
        f.write(f"{form} {svd} {torch.get_num_threads()}")
    """

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// /proc/loadavg's three averages ("-" where it cannot be read): the machine is shared.
    static func loadAverage() -> String {
        var averages = [Double](repeating: 0, count: 3)
        guard getloadavg(&averages, 3) == 3 else { return "-" }
        return averages.map { ByteSize.formatted($0, decimals: 2) }.joined(separator: " ")
    }
}

private enum BenchLowRankFolder {
    /// Removes the benchmark folder (files one level deep, then folders).
    static func remove(_ path: String) throws {
        for sub in ["adapter", "resized"] {
            for name in ["adapter_model.safetensors", "adapter_config.json"] { unlink(path + "/" + sub + "/" + name) }
            rmdir(path + "/" + sub)
        }
        for name in ["torch_svd.py", "torch_svd.txt"] { unlink(path + "/" + name) }
        rmdir(path)
    }
}
