import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// `ckpt verify MERGED --against BASE ADAPTER…`: runs `MergeCheck` with the plan `ckpt merge` would
/// build from the same arguments, and reports it as text or JSON.
struct VerifyAgainst {
    let base: String
    let adapters: [Adapter]
    let weights: [Double]
    let report: MergeCheck.Report

    static func run(merged: any CheckpointReader, base: String, adapterPaths: [String], adapterOptions: AdapterArguments, untie: Bool,
                    options: MergeCheck.Options) throws -> VerifyAgainst {
        let (loaded, weights) = try adapterOptions.loadAdapters(adapterPaths)
        let job = try MergeJob(basePath: base, adapters: loaded, weights: weights,
                               options: .init(ignoreUnmatched: adapterOptions.ignoreUnmatched, untie: untie, requantFallback: adapterOptions.requantFallbackType()))
        var options = options
        options.threads = adapterOptions.threads ?? job.threads
        let progress = ProgressLine(label: "comparing", enabled: true)
        let report = try MergeCheck(job: job, merged: merged, options: options).run { done, total in progress.update(done: done, total: total) }
        progress.finish()
        return VerifyAgainst(base: base, adapters: job.adapters, weights: weights, report: report)
    }

    /// Three significant digits, in exponent form below 0.001.
    static func short(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : "inf" }
        guard value != 0 else { return "0" }
        if abs(value) >= 1e-3 { return ByteSize.formatted(value, decimals: abs(value) >= 100 ? 0 : 3) }
        var exponent = Int(Double(value.magnitude.exponent) * 0.30103) - 1
        while value.magnitude >= _pow10(exponent + 1) { exponent += 1 }
        while value.magnitude < _pow10(exponent) { exponent -= 1 }
        return ByteSize.formatted(value / _pow10(exponent), decimals: 2) + "e" + String(exponent)
    }

    private static func _pow10(_ n: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(n) { result *= 10 }
        return n < 0 ? 1 / result : result
    }

    func text() -> String {
        var out = ""
        func line(_ key: String, _ value: String) { out += "  " + key.padding(12) + " " + value + "\n" }
        line("against", escapedForTerminal(base) + " + " + zip(adapters, weights).map { escapedForTerminal($0.path) + ($1 == 1 ? "" : " (weight \($1))") }.joined(separator: ", "))
        let sample = report.rowsPerTensor.map { "\($0) rows per tensor (seed \(report.seed))" } ?? "every row"
        line("compared", "\(report.changed.count) changed tensors in float64, \(sample); \(report.unchangedChecked) unchanged tensors byte for byte with the base")
        if !report.changed.isEmpty {
            var rows = [["  tensor", "dtype", "rows", "max error", "at (row, column)", "max |error|", "limit", ""]]
            for result in report.changed {
                rows.append(["  " + escapedForTerminal(result.name), result.dtype.userName, "\(result.rowsChecked)/\(result.rows)",
                             "\(Self.short(result.maxError)) \(result.measure.unit)", result.maxError > 0 ? "(\(result.worstRow), \(result.worstColumn))" : "-",
                             Self.short(result.maxAbsError), "\(MergeCheck.rounded(result.limit))", result.passed ? "ok" : "FAILED"])
            }
            // The verdict column has no header: drop the padding that leaves at the header's end.
            let table = Numbers.table(rows).split(separator: "\n", omittingEmptySubsequences: false)
            out += table.map { line in String(line.reversed().drop { $0 == " " }.reversed()) }.joined(separator: "\n")
        }
        return out
    }

    func json() -> JSONValue {
        func number(_ value: Double) -> JSONValue { value.isFinite ? .number("\(value)") : .string(value.isNaN ? "nan" : "inf") }
        let tensors: [JSONValue] = report.changed.map { result in
            .object([
                JSONMember("name", .string(result.name)),
                JSONMember("dtype", .string(result.dtype.userName)),
                JSONMember("rows", .number(String(result.rows))),
                JSONMember("rows_checked", .number(String(result.rowsChecked))),
                JSONMember("unit", .string(result.measure.unit)),
                JSONMember("max_error", number(result.maxError)),
                JSONMember("worst_row", .number(String(result.worstRow))),
                JSONMember("worst_column", .number(String(result.worstColumn))),
                JSONMember("merged_value", number(result.merged)),
                JSONMember("expected_value", number(result.expected)),
                JSONMember("max_abs_error", number(result.maxAbsError)),
                JSONMember("limit", number(result.limit)),
                JSONMember("ok", .bool(result.passed)),
            ])
        }
        return .object([
            JSONMember("base", .string(base)),
            JSONMember("adapters", .array(zip(adapters, weights).map { .object([JSONMember("path", .string($0.path)), JSONMember("weight", number($1))]) })),
            JSONMember("rows_per_tensor", report.rowsPerTensor.map { .number(String($0)) } ?? .null),
            JSONMember("seed", .number(String(report.seed))),
            JSONMember("unchanged_tensors_checked", .number(String(report.unchangedChecked))),
            JSONMember("changed_tensors", .array(tensors)),
        ])
    }
}
