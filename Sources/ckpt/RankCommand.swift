import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct RankCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Report the singular spectrum and effective rank of every module of an adapter.",
        discussion: """
        Spectra come from the factors (QR of B and Aᵀ, SVD of the r×r core), never from a dense ΔW, \
        so even rank-64 adapters of large models are analysed in seconds.

        Per module: numerical rank (#σ > σ₁·max(m,n)·ε_f32), stable rank ‖ΔW‖²_F/‖ΔW‖²₂, entropy \
        effective rank exp(−Σ p ln p) with p = σ/Σσ, participation ratio (Σσ²)²/Σσ⁴, the ranks keeping \
        90/95/99 % of Σσ², unused rank (r − numerical rank) and the spectrum as a sparkline; with \
        --base also ‖ΔW‖_F/‖W‖_F and σ₁(ΔW)/σ₁(W) (σ₁(W) by subspace iteration, not a dense SVD). Means by module type \
        and by layer follow. MELoRA adapters also list each block's numerical rank.

        Examples:
          ckpt rank my-lora/
          ckpt rank my-lora/ --base model/ --by type
          ckpt rank my-lora/ --json > ranks.json
          ckpt rank my-lora/ --plot ranks.svg
        """
    )

    @Argument(help: "The adapter: a PEFT folder, a kohya file or a MELoRA state dict.")
    var adapter: String

    @Option(name: .long, help: ArgumentHelp("The base checkpoint, for ‖ΔW‖/‖W‖ and σ₁(ΔW)/σ₁(W).", valueName: "BASE"))
    var base: String?

    @Option(name: .long, help: ArgumentHelp("Which tables to print: module, layer, type or all.", valueName: "GROUP"))
    var by: String = "all"

    @Flag(name: .long, help: "Print the report (with every singular value) as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "Print one CSV row per module on stdout.")
    var csv = false

    @Option(name: .long, help: ArgumentHelp("Also write an SVG with the spectra per module type and an effective-rank-by-layer heatmap.", valueName: "FILE.svg"))
    var plot: String?

    @Option(name: .customLong("adapter-format"), help: ArgumentHelp("Read ADAPTER as this kind instead of detecting it. Values: peft, kohya, melora, gguf.", valueName: "KIND"))
    var adapterFormat: String?

    @Option(name: .customLong("melora-scale"), help: ArgumentHelp("Absolute scale of MyTransformers MELoRA files, which do not store it.", valueName: "S"))
    var meloraScale: Double?

    @Flag(name: .long, help: "Replace the --plot file if it exists.")
    var force = false

    func run() throws {
        guard ["module", "layer", "type", "all"].contains(by) else { throw UsageError("--by '\(by)' is not one of module, layer, type, all") }
        guard !(json && csv) else { throw UsageError("--json and --csv cannot be combined; pick one") }
        let loaded = try AdapterChoice(format: adapterFormat, meloraScale: meloraScale).load(adapter)
        let reader = try base.map { try Checkpoint.open($0) }
        let report = try RankReport(adapter: loaded, base: reader, basePath: base)
        if let plot {
            try AtomicOutputText(path: plot).write(RankPlot(report: report).svg(), overwrite: force)
        }
        if json {
            print(JSONEmitter(style: .python(indent: 2)).text(RankJSON.report(report)))
        } else if csv {
            print(RankJSON.csv(report), terminator: "")
        } else {
            print(RankTable.text(report, by: by), terminator: "")
        }
    }
}

/// `--adapter-format` / `--melora-scale` as the analysis commands take them.
struct AdapterChoice {
    var format: String?
    var meloraScale: Double?

    func load(_ path: String) throws -> Adapter {
        var kind: AdapterFormat?
        if let format {
            guard let parsed = AdapterFormat(rawValue: format.lowercased()) else {
                throw UsageError("--adapter-format '\(format)' is not one of \(AdapterFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = parsed
        }
        return try Adapter.load(path: path, format: kind, meloraScale: meloraScale)
    }
}
