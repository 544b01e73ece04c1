import CheckpointFormats
import CheckpointSurgery

/// `ckpt rank --json` and `--csv`.
enum RankJSON {
    static func report(_ report: RankReport) -> JSONValue {
        var members = [JSONMember("adapter", .string(report.adapterPath)), JSONMember("format", .string(report.format.rawValue))]
        members.append(JSONMember("base", report.basePath.map { .string($0) } ?? .null))
        members.append(JSONMember("modules", .array(report.modules.map(module))))
        members.append(JSONMember("by_type", .array(report.byType.map(group))))
        members.append(JSONMember("by_layer", .array(report.byLayer.map(group))))
        members.append(JSONMember("total", group(report.total)))
        members.append(JSONMember("notes", .array(report.notes.map { .string($0) })))
        return .object(members)
    }

    static func statistics(_ s: RankStatistics) -> [JSONMember] {
        [JSONMember("rank", .number(String(s.storedRank))), JSONMember("numerical_rank", .number(String(s.numericalRank))),
         JSONMember("stable_rank", number(s.stableRank)), JSONMember("entropy_rank", number(s.entropyRank)),
         JSONMember("participation_ratio", number(s.participationRatio)), JSONMember("energy_rank_90", .number(String(s.energyRank90))),
         JSONMember("energy_rank_95", .number(String(s.energyRank95))), JSONMember("energy_rank_99", .number(String(s.energyRank99))),
         JSONMember("unused_rank", .number(String(s.unusedRank))), JSONMember("frobenius_norm", number(s.frobeniusNorm)),
         JSONMember("spectral_norm", number(s.spectralNorm))]
    }

    static func module(_ module: RankReport.Module) -> JSONValue {
        let spectrum = module.spectrum
        var members = [JSONMember("module", .string(spectrum.module)), JSONMember("type", .string(spectrum.moduleType)),
                       JSONMember("layer", spectrum.layer.map { .number(String($0)) } ?? .null),
                       JSONMember("rows", .number(String(spectrum.rows))), JSONMember("columns", .number(String(spectrum.columns)))]
        members += statistics(module.statistics)
        members.append(JSONMember("relative_norm", module.relativeNorm.map(number) ?? .null))
        members.append(JSONMember("spectral_ratio", module.spectralRatio.map(number) ?? .null))
        members.append(JSONMember("singular_values", .array(spectrum.sigma.map(number))))
        if !module.blocks.isEmpty {
            members.append(JSONMember("blocks", .array(zip(module.blocks, spectrum.blockSigma).map { stats, sigma in
                .object(statistics(stats) + [JSONMember("singular_values", .array(sigma.map(number)))])
            })))
        }
        return .object(members)
    }

    static func group(_ g: RankReport.Group) -> JSONValue {
        .object([JSONMember("key", .string(g.key)), JSONMember("modules", .number(String(g.modules))), JSONMember("rank", .number(String(g.storedRank))),
                 JSONMember("numerical_rank", .number(String(g.numericalRank))), JSONMember("unused_rank", .number(String(g.unusedRank))),
                 JSONMember("mean_stable_rank", number(g.stableRank)), JSONMember("mean_entropy_rank", number(g.entropyRank)),
                 JSONMember("mean_participation_ratio", number(g.participationRatio)), JSONMember("mean_energy_rank_90", number(g.energyRank90)),
                 JSONMember("mean_energy_rank_95", number(g.energyRank95)), JSONMember("mean_energy_rank_99", number(g.energyRank99)),
                 JSONMember("mean_relative_norm", g.relativeNorm.map(number) ?? .null), JSONMember("mean_spectral_ratio", g.spectralRatio.map(number) ?? .null)])
    }

    static func number(_ value: Double) -> JSONValue { value.isFinite ? .number(String(value)) : .null }

    /// One row per module; singular values `;`-separated in the last column.
    static func csv(_ report: RankReport) -> String {
        var out = "module,type,layer,rows,columns,rank,numerical_rank,stable_rank,entropy_rank,participation_ratio,energy_rank_90,energy_rank_95,energy_rank_99,unused_rank,frobenius_norm,spectral_norm,relative_norm,spectral_ratio,block_numerical_ranks,singular_values\n"
        for module in report.modules {
            let s = module.statistics, spectrum = module.spectrum
            let cells: [String] = [quoted(spectrum.module), quoted(spectrum.moduleType), spectrum.layer.map(String.init) ?? "", "\(spectrum.rows)", "\(spectrum.columns)",
                                   "\(s.storedRank)", "\(s.numericalRank)", "\(s.stableRank)", "\(s.entropyRank)", "\(s.participationRatio)",
                                   "\(s.energyRank90)", "\(s.energyRank95)", "\(s.energyRank99)", "\(s.unusedRank)", "\(s.frobeniusNorm)", "\(s.spectralNorm)",
                                   module.relativeNorm.map { "\($0)" } ?? "", module.spectralRatio.map { "\($0)" } ?? "",
                                   module.blocks.map { "\($0.numericalRank)" }.joined(separator: ";"),
                                   spectrum.sigma.map { "\($0)" }.joined(separator: ";")]
            out += cells.joined(separator: ",") + "\n"
        }
        return out
    }

    /// RFC 4180 quoting when a field holds a comma, quote or line break.
    static func quoted(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        var out = "\""
        for character in text {
            if character == "\"" { out += "\"\"" } else { out.append(character) }
        }
        return out + "\""
    }
}
