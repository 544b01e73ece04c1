import CheckpointCore
import CheckpointFormats

/// One benchmarked command: its runs and their median.
struct BenchMeasurement {
    var label: String
    var runs: [BenchProcess.Result]
    var bytes: Int

    var seconds: Double { runs.map(\.seconds).sorted()[runs.count / 2] }
    var maxRSS: Int { runs.map(\.maxRSSBytes).max() ?? 0 }
    var gigabytesPerSecond: Double { Double(bytes) / seconds / 1e9 }
}

/// What `ckpt inspect` costs on the big file: bytes read (rchar) and time, measured in-process.
struct BenchInspect {
    var bytesRead: Int
    var seconds: Double

    static func measure(_ path: String) throws -> BenchInspect {
        let before = BenchProcess.bytesRead() ?? 0
        let start = Clock.now()
        _ = try Checkpoint.open(path)
        let seconds = Clock.now() - start
        let after = BenchProcess.bytesRead() ?? 0
        return BenchInspect(bytesRead: after - before, seconds: seconds)
    }
}

struct BenchReport {
    let model: BenchModel
    let cp: BenchMeasurement
    let cpSync: BenchMeasurement
    let same: BenchMeasurement
    let cast: BenchMeasurement
    let inspect: BenchInspect

    var rssBudget: Int { 2 * model.largestTensor + 100 * 1024 * 1024 }

    /// Throughput ratio of `m` to a baseline (>1 is faster than the baseline).
    func ratio(_ m: BenchMeasurement, _ baseline: BenchMeasurement) -> Double { baseline.seconds / m.seconds }

    var goals: [(String, Bool)] {
        [
            ("same dtype ≥ 0.9 × cp+fsync", ratio(same, cpSync) >= 0.9),
            ("bf16→f16 ≥ 0.7 × cp+fsync", ratio(cast, cpSync) >= 0.7),
            ("peak RSS ≤ 2 × largest tensor + 100 MiB", max(same.maxRSS, cast.maxRSS) <= rssBudget),
            ("inspect reads < 1 MB", inspect.bytesRead < 1_000_000),
        ]
    }

    var text: String {
        var rows: [[String]] = [["command", "median s", "GB/s", "× cp", "× cp+fsync", "peak RSS"]]
        for m in [cp, cpSync, same, cast] {
            rows.append([m.label, ByteSize.formatted(m.seconds, decimals: 3), ByteSize.formatted(m.gigabytesPerSecond, decimals: 2),
                         ByteSize.formatted(ratio(m, cp), decimals: 2), ByteSize.formatted(ratio(m, cpSync), decimals: 2),
                         ByteSize.describe(m.maxRSS)])
        }
        var out = "checkpoint: \(model.tensors) bf16 tensors, \(ByteSize.describe(model.bytes)); largest tensor \(ByteSize.describe(model.largestTensor)); \(cp.runs.count) runs each, median\n\n"
        out += Numbers.table(rows)
        out += "\ninspect: read \(Numbers.grouped(inspect.bytesRead)) bytes of the \(ByteSize.describe(model.bytes)) file in \(ByteSize.formatted(inspect.seconds * 1000, decimals: 2)) ms\n"
        out += "RSS budget (2 × largest tensor + 100 MiB): \(ByteSize.describe(rssBudget))\n\n"
        for (goal, met) in goals { out += (met ? "met     " : "MISSED  ") + goal + "\n" }
        return out
    }

    var json: JSONValue {
        func number(_ value: Double) -> JSONValue { .number(ByteSize.formatted(value, decimals: 4)) }
        func entry(_ m: BenchMeasurement) -> JSONValue {
            .object([
                JSONMember("command", .string(m.label)), JSONMember("median_seconds", number(m.seconds)),
                JSONMember("gb_per_second", number(m.gigabytesPerSecond)), JSONMember("ratio_to_cp", number(ratio(m, cp))),
                JSONMember("ratio_to_cp_fsync", number(ratio(m, cpSync))), JSONMember("peak_rss_bytes", .number(String(m.maxRSS))),
                JSONMember("runs_seconds", .array(m.runs.map { number($0.seconds) })),
            ])
        }
        return .object([
            JSONMember("checkpoint_bytes", .number(String(model.bytes))),
            JSONMember("largest_tensor_bytes", .number(String(model.largestTensor))),
            JSONMember("rss_budget_bytes", .number(String(rssBudget))),
            JSONMember("measurements", .array([cp, cpSync, same, cast].map(entry))),
            JSONMember("inspect_bytes_read", .number(String(inspect.bytesRead))),
            JSONMember("inspect_seconds", number(inspect.seconds)),
            JSONMember("goals", .object(goals.map { JSONMember($0.0, .bool($0.1)) })),
        ])
    }
}
