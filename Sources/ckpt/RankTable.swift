import CheckpointCore
import CheckpointSurgery

/// The terminal tables of `ckpt rank`.
enum RankTable {
    static func text(_ report: RankReport, by: String) -> String {
        var out = "\(escapedForTerminal(report.adapterPath)): \(report.format.rawValue) adapter, \(report.modules.count) modules\n"
        let withBase = report.basePath != nil
        if by == "module" || by == "all" {
            var rows = [["module", "r", "num", "stable", "entropy", "PR", "e90", "e95", "e99", "unused"] + (withBase ? ["‖ΔW‖/‖W‖", "σ₁ ratio"] : []) + ["spectrum"]]
            for module in report.modules {
                let s = module.statistics
                var row = [escapedForTerminal(module.spectrum.module), "\(s.storedRank)", "\(s.numericalRank)", fixed(s.stableRank), fixed(s.entropyRank),
                           fixed(s.participationRatio), "\(s.energyRank90)", "\(s.energyRank95)", "\(s.energyRank99)", "\(s.unusedRank)"]
                if withBase { row += [scientific(module.relativeNorm), scientific(module.spectralRatio)] }
                var spark = sparkline(module.spectrum.sigma)
                if !module.blocks.isEmpty { spark += "  blocks " + module.blocks.map { "\($0.numericalRank)/\($0.storedRank)" }.joined(separator: " ") }
                rows.append(row + [spark])
            }
            out += "\n" + Numbers.table(rows)
        }
        if by == "type" || by == "all" { out += "\nBy module type (r, num, unused: totals; the other columns: means)\n" + groupTable(report.byType, title: "type", withBase: withBase) }
        if by == "layer" || by == "all" { out += "\nBy layer (r, num, unused: totals; the other columns: means)\n" + groupTable(report.byLayer, title: "layer", withBase: withBase) }
        let total = report.total
        out += "\nAll modules: stored rank \(total.storedRank), numerical rank \(total.numericalRank), unused \(total.unusedRank); mean entropy rank \(fixed(total.entropyRank)), mean stable rank \(fixed(total.stableRank))\n"
        for note in report.notes { out += "note: \(note)\n" }
        return out
    }

    static func groupTable(_ groups: [RankReport.Group], title: String, withBase: Bool) -> String {
        var rows = [[title, "modules", "r", "num", "unused", "stable", "entropy", "PR", "e90", "e95", "e99"] + (withBase ? ["‖ΔW‖/‖W‖", "σ₁ ratio"] : [])]
        for g in groups {
            var row = [escapedForTerminal(g.key), "\(g.modules)", "\(g.storedRank)", "\(g.numericalRank)", "\(g.unusedRank)", fixed(g.stableRank), fixed(g.entropyRank),
                       fixed(g.participationRatio), fixed(g.energyRank90, 1), fixed(g.energyRank95, 1), fixed(g.energyRank99, 1)]
            if withBase { row += [scientific(g.relativeNorm), scientific(g.spectralRatio)] }
            rows.append(row)
        }
        return Numbers.table(rows)
    }

    /// σ/σ₁ as block characters, at most 32 of them (the largest σ of each bucket when there are more).
    static func sparkline(_ sigma: [Double]) -> String {
        guard let first = sigma.first, first > 0 else { return "" }
        let levels = Array("▁▂▃▄▅▆▇█")
        let width = min(sigma.count, 32)
        var out = ""
        for bucket in 0..<width {
            let start = bucket * sigma.count / width, end = max((bucket + 1) * sigma.count / width, start + 1)
            let value = sigma[start..<end].max() ?? 0
            let level = Int((value / first * Double(levels.count - 1)).rounded())
            out.append(levels[max(0, min(level, levels.count - 1))])
        }
        return out
    }

    static func fixed(_ value: Double, _ decimals: Int = 2) -> String { ByteSize.formatted(value, decimals: decimals) }

    static func scientific(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return formatScientific(value)
    }
}

/// `1.23e-04`.
func formatScientific(_ value: Double) -> String {
    guard value != 0, value.isFinite else { return value == 0 ? "0" : "\(value)" }
    var exponent = Int(RankMath.log10(value.magnitude).rounded(.down))
    var mantissa = value / RankMath.pow10(Double(exponent))
    if mantissa.magnitude >= 9.995 { exponent += 1; mantissa /= 10 }
    let digits = String(exponent.magnitude)
    return ByteSize.formatted(mantissa, decimals: 2) + "e" + (exponent < 0 ? "-" : "+") + (digits.count < 2 ? "0" + digits : digits)
}
