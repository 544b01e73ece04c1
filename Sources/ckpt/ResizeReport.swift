import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// The report of `ckpt resize`: per module r → k, alpha and kohya's retained figures.
enum ResizeReport {
    static func text(_ operation: ResizeOperation, verbose: Bool, written: [String]) -> String {
        var out = ""
        if verbose {
            // kohya's --verbose line, one per module.
            for r in operation.results {
                out += escapedForTerminal(r.module).padding(60) + " | sum(S) retained: \(percent(r.sumRetained)), fro retained: \(percent(r.frobeniusRetained)), max(S) ratio: \(ByteSize.formatted(r.maxRatio, decimals: 1)), dim: \(r.oldRank) → \(r.newRank), alpha: \(alpha(r.oldAlpha)) → \(alpha(r.newAlpha))\n"
            }
        } else {
            var rows = [["module", "r", "alpha", "energy kept"]]
            for r in operation.results {
                rows.append([escapedForTerminal(r.module), "\(r.oldRank) → \(r.newRank)", "\(alpha(r.oldAlpha)) → \(alpha(r.newAlpha))", percent(r.energyRetained)])
            }
            out += Numbers.table(rows)
        }
        let retention = operation.results.map(\.frobeniusRetained)
        let mean = retention.reduce(0, +) / Double(max(retention.count, 1))
        let deviation = (retention.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(retention.count, 1))).squareRoot()
        out += "Average Frobenius norm retention: \(percent(mean)) | std: \(ByteSize.formatted(deviation, decimals: 3))\n"
        let oldRank = operation.results.reduce(0) { $0 + $1.oldRank }, newRank = operation.results.reduce(0) { $0 + $1.newRank }
        out += "\(operation.results.count) modules, total rank \(oldRank) → \(newRank), factors \(ByteSize.describe(operation.factorBytes)), energy kept \(percent(operation.energyRetained)) of the whole adapter\n"
        for note in operation.notes { out += "note: \(note)\n" }
        out += "wrote \(written.map(escapedForTerminal).joined(separator: ", "))\n"
        return out
    }

    static func json(_ operation: ResizeOperation, written: [String]) -> JSONValue {
        .object([
            JSONMember("modules", .array(operation.results.map { r in
                .object([JSONMember("module", .string(r.module)), JSONMember("old_rank", .number(String(r.oldRank))), JSONMember("new_rank", .number(String(r.newRank))),
                         JSONMember("old_alpha", RankJSON.number(r.oldAlpha)), JSONMember("new_alpha", RankJSON.number(r.newAlpha)),
                         JSONMember("sum_retained", RankJSON.number(r.sumRetained)), JSONMember("fro_retained", RankJSON.number(r.frobeniusRetained)),
                         JSONMember("max_ratio", RankJSON.number(r.maxRatio)), JSONMember("energy_retained", RankJSON.number(r.energyRetained))])
            })),
            JSONMember("factor_bytes", .number(String(operation.factorBytes))),
            JSONMember("energy_retained", RankJSON.number(operation.energyRetained)),
            JSONMember("notes", .array(operation.notes.map { .string($0) })),
            JSONMember("written", .array(written.map { .string($0) })),
        ])
    }

    static func percent(_ value: Double) -> String { ByteSize.formatted(value * 100, decimals: 1) + "%" }

    static func alpha(_ value: Double) -> String {
        guard value.isFinite else { return "-" }
        return value == value.rounded() && value.magnitude < 1e9 ? String(Int(value)) : ByteSize.formatted(value, decimals: 4)
    }
}
