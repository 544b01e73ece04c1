import CheckpointCore
import CheckpointFormats

/// One benchmarked command and its runs.
struct BenchMeasurement {
    var label: String
    var runs: [BenchProcess.Result] = []

    var seconds: Double { BenchStatistics.median(runs.map(\.seconds)) }
    var fastest: Double { runs.map(\.seconds).min() ?? .nan }
    var slowest: Double { runs.map(\.seconds).max() ?? .nan }
    /// `ru_maxrss`, an upper bound of the child's peak (see `BenchProcess.Result`).
    var maxRSS: Int { runs.map(\.maxRSS).max() ?? 0 }
    var inherited: Int? { runs.compactMap(\.inherited).max() }
    var sampledPeak: Int? { runs.compactMap(\.sampledPeak).max() }
    var userSeconds: Double { BenchStatistics.median(runs.map(\.userSeconds)) }
    var systemSeconds: Double { BenchStatistics.median(runs.map(\.systemSeconds)) }

    func gigabytesPerSecond(_ bytes: Int) -> Double { Double(bytes) / seconds / 1e9 }
}

/// The figures of one `ckpt bench` run, as a table or as JSON.
struct BenchReport {
    struct Goal {
        var name: String
        var value: Double
        var threshold: Double
        var met: Bool
        var shown: String
    }

    let model: BenchModel
    let layers: Int
    let machine: BenchMachine
    let residentBefore: Double?
    let residentAfter: Double?
    let cp: BenchMeasurement
    let cpSync: BenchMeasurement
    let same: BenchMeasurement
    let cast: BenchMeasurement
    let inspectProcess: BenchMeasurement
    let inspect: BenchInspect
    /// zstd figures, unless skipped with --no-zstd.
    var compression: BenchCompression? = nil
    var torch: BenchTorch.Result? = nil
    /// safetensors → GGUF rows (bf16 kept, Q8_0, gguf-py when measured).
    let gguf: [BenchMeasurement]

    var rssBudget: Int { 2 * model.largestTensor + 100 * 1024 * 1024 }
    var runsPerMeasurement: Int { cp.runs.count }

    /// Throughput of `m` relative to `baseline` (> 1 is faster than the baseline).
    func ratio(_ m: BenchMeasurement, _ baseline: BenchMeasurement) -> Double { baseline.seconds / m.seconds }

    var goals: [Goal] {
        let sameRatio = ratio(same, cpSync), castRatio = ratio(cast, cpSync)
        let rss = max(same.maxRSS, cast.maxRSS)
        let ggufRatio = gguf.first.map { ratio($0, cpSync) } ?? .nan
        return [
            Goal(name: "safetensors → GGUF same dtype ≥ 0.9 × cp+fsync", value: ggufRatio, threshold: 0.9, met: ggufRatio >= 0.9,
                 shown: ByteSize.formatted(ggufRatio, decimals: 2)),
            Goal(name: "same dtype ≥ 0.9 × cp+fsync", value: sameRatio, threshold: 0.9, met: sameRatio >= 0.9,
                 shown: ByteSize.formatted(sameRatio, decimals: 2)),
            Goal(name: "bf16→f16 ≥ 0.7 × cp+fsync", value: castRatio, threshold: 0.7, met: castRatio >= 0.7,
                 shown: ByteSize.formatted(castRatio, decimals: 2)),
            Goal(name: "peak RSS ≤ 2 × largest tensor + 100 MiB", value: Double(rss), threshold: Double(rssBudget),
                 met: rss <= rssBudget, shown: "\(ByteSize.describe(rss)) of \(ByteSize.describe(rssBudget))"),
            Goal(name: "inspect reads < 1 MB", value: Double(inspect.bytesRead), threshold: 1e6,
                 met: inspect.bytesRead < 1_000_000, shown: "\(Numbers.grouped(inspect.bytesRead)) bytes"),
        ] + torchGoals
    }

    private var torchGoals: [Goal] {
        guard let torch else { return [] }
        let value = ratio(torch.ckpt, cpSync)
        return [Goal(name: "torch zip → safetensors ≥ 0.9 × cp+fsync", value: value, threshold: 0.9, met: value >= 0.9,
                     shown: ByteSize.formatted(value, decimals: 2))]
    }

    /// The PyTorch rows: conversions of the torch.save file, against the same cp baselines.
    private var torchText: String {
        guard let torch else { return "" }
        func seconds(_ value: Double) -> String { ByteSize.formatted(value, decimals: 3) }
        func ratioText(_ value: Double) -> String { ByteSize.formatted(value, decimals: 2) }
        var rows: [[String]] = [["torch.save zip (\(ByteSize.describe(torch.torchFileBytes))) → safetensors", "median s", "min–max s", "× cp", "× cp+fsync", "user s", "sys s", "own peak"]]
        for m in [torch.ckpt, torch.python, torch.pythonImport].compactMap({ $0 }) {
            rows.append([m.label, seconds(m.seconds), "\(seconds(m.fastest))–\(seconds(m.slowest))", ratioText(ratio(m, cp)), ratioText(ratio(m, cpSync)),
                         seconds(m.userSeconds), seconds(m.systemSeconds), m.sampledPeak.map(ByteSize.describe) ?? "-"])
        }
        var out = "\n" + Numbers.table(rows)
        if let python = torch.python {
            out += "ckpt is \(ratioText(python.seconds / torch.ckpt.seconds))× as fast as torch + safetensors in Python (\(escapedForTerminal(torch.pythonPath ?? "")))\n"
        } else {
            out += "no Python with torch and safetensors found (set CKPT_PYTHON): the Python comparison was skipped\n"
        }
        return out
    }

    private var throughputRows: [BenchMeasurement] { [cp, cpSync, same, cast] + gguf }

    var text: String {
        func seconds(_ value: Double) -> String { ByteSize.formatted(value, decimals: 3) }
        func ratioText(_ value: Double) -> String { ByteSize.formatted(value, decimals: 2) }
        var rows: [[String]] = [["command", "median s", "min–max s", "GB/s", "× cp", "× cp+fsync", "user s", "sys s", "ru_maxrss", "own peak"]]
        for m in throughputRows {
            rows.append([m.label, seconds(m.seconds), "\(seconds(m.fastest))–\(seconds(m.slowest))",
                         ratioText(m.gigabytesPerSecond(model.fileBytes)), ratioText(ratio(m, cp)), ratioText(ratio(m, cpSync)),
                         seconds(m.userSeconds), seconds(m.systemSeconds), ByteSize.describe(m.maxRSS), m.sampledPeak.map(ByteSize.describe) ?? "-"])
        }
        let m = inspectProcess
        rows.append([m.label, seconds(m.seconds), "\(seconds(m.fastest))–\(seconds(m.slowest))", "-", "-", "-",
                     seconds(m.userSeconds), seconds(m.systemSeconds), ByteSize.describe(m.maxRSS), m.sampledPeak.map(ByteSize.describe) ?? "-"])

        func percent(_ fraction: Double?) -> String { fraction.map { ByteSize.formatted($0 * 100, decimals: 0) + "%" } ?? "unknown" }
        var out = "checkpoint  \(model.tensors) bf16 tensors (\(layers) layers), \(ByteSize.describe(model.fileBytes)); largest tensor \(ByteSize.describe(model.largestTensor))\n"
        out += "machine     \(machine.summary)\n"
        out += "method      median of \(runsPerMeasurement) interleaved runs; source in page cache: \(percent(residentBefore)) before, \(percent(residentAfter)) after\n\n"
        out += Numbers.table(rows)
        out += "\nru_maxrss (wait4) includes what a spawned child inherits from the bench: up to \(inherited).\n"
        out += "own peak is the child's VmHWM sampled every 10 ms (not shown for runs under 0.1 s).\n"
        out += torchText
        out += "inspect     opening the checkpoint read \(Numbers.grouped(inspect.bytesRead)) bytes of \(ByteSize.describe(model.fileBytes)) (rchar), \(inspect.pageFaults) page faults, \(ByteSize.formatted(inspect.seconds * 1000, decimals: 2)) ms\n\n"
        for goal in goals { out += (goal.met ? "met     " : "MISSED  ") + goal.name + " (" + goal.shown + ")\n" }
        return out + (compression?.text ?? "")
    }

    private var inherited: String {
        let values = ([cp, cpSync, same, cast, inspectProcess]).compactMap(\.inherited)
        return values.max().map(ByteSize.describe) ?? "an unknown amount"
    }

    var json: JSONValue {
        func number(_ value: Double) -> JSONValue { value.isFinite ? .number(ByteSize.formatted(value, decimals: 4)) : .null }
        func integer(_ value: Int) -> JSONValue { .number(String(value)) }
        func optional(_ value: Int?) -> JSONValue { value.map(integer) ?? .null }
        func entry(_ m: BenchMeasurement, throughput: Bool) -> JSONValue {
            var members = [
                JSONMember("command", .string(m.label)),
                JSONMember("median_seconds", number(m.seconds)),
                JSONMember("runs_seconds", .array(m.runs.map { number($0.seconds) })),
                JSONMember("median_user_seconds", number(m.userSeconds)),
                JSONMember("median_system_seconds", number(m.systemSeconds)),
            ]
            if throughput {
                members += [
                    JSONMember("gb_per_second", number(m.gigabytesPerSecond(model.fileBytes))),
                    JSONMember("ratio_to_cp", number(ratio(m, cp))),
                    JSONMember("ratio_to_cp_fsync", number(ratio(m, cpSync))),
                ]
            }
            members += [
                JSONMember("ru_maxrss_bytes", integer(m.maxRSS)),
                JSONMember("inherited_rss_bytes", optional(m.inherited)),
                JSONMember("sampled_peak_rss_bytes", optional(m.sampledPeak)),
            ]
            return .object(members)
        }
        return .object([
            JSONMember("checkpoint", .object([
                JSONMember("layers", integer(layers)),
                JSONMember("tensors", integer(model.tensors)),
                JSONMember("file_bytes", integer(model.fileBytes)),
                JSONMember("tensor_bytes", integer(model.tensorBytes)),
                JSONMember("largest_tensor_bytes", integer(model.largestTensor)),
            ])),
            JSONMember("machine", .object([
                JSONMember("processors", integer(machine.processors)),
                JSONMember("memory_bytes", integer(machine.memoryBytes)),
                JSONMember("kernel", .string(machine.kernel)),
                JSONMember("file_system", .string(machine.fileSystem)),
            ])),
            JSONMember("runs_per_measurement", integer(runsPerMeasurement)),
            JSONMember("page_cache_resident_before", residentBefore.map(number) ?? .null),
            JSONMember("page_cache_resident_after", residentAfter.map(number) ?? .null),
            JSONMember("measurements", .array(throughputRows.map { entry($0, throughput: true) })),
            JSONMember("inspect", .object([
                JSONMember("bytes_read", integer(inspect.bytesRead)),
                JSONMember("page_faults", integer(inspect.pageFaults)),
                JSONMember("median_seconds", number(inspect.seconds)),
                JSONMember("process", entry(inspectProcess, throughput: false)),
            ])),
            JSONMember("zstd", compression?.json ?? .null),
            JSONMember("pytorch", torch.map { torch in
                .object([
                    JSONMember("torch_file_bytes", integer(torch.torchFileBytes)),
                    JSONMember("python", torch.pythonPath.map { .string($0) } ?? .null),
                    JSONMember("measurements", .array([torch.ckpt, torch.python, torch.pythonImport].compactMap { $0 }.map { entry($0, throughput: true) })),
                ])
            } ?? .null),
            JSONMember("rss_budget_bytes", integer(rssBudget)),
            JSONMember("goals", .array(goals.map { goal in
                .object([
                    JSONMember("goal", .string(goal.name)),
                    JSONMember("value", number(goal.value)),
                    JSONMember("threshold", number(goal.threshold)),
                    JSONMember("met", .bool(goal.met)),
                ])
            })),
        ])
    }
}
