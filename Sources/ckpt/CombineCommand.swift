import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct CombineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "combine",
        abstract: "Combine adapters into one: the exact weighted sum of their deltas, recompressed by SVD.",
        discussion: """
        Per module, Σ wⱼ·sⱼ·BⱼAⱼ is the product of the concatenated factors [w₁s₁B₁ | w₂s₂B₂ | …] and \
        [A₁; A₂; …], so no cross terms appear. That product is recompressed by its factor SVD: to its \
        numerical rank (lossless), or to --rank R (the optimal rank-R approximation, energy kept \
        reported). Factors: B = U·diag(σ), A = Vᵀ, scale 1. The output takes the first adapter's layout \
        (PEFT folder, kohya file or GGUF adapter; PEFT for MELoRA), or --to peft, kohya or gguf; \
        modules_to_save tensors are carried over into PEFT (two adapters replacing the same tensor is \
        an error). The adapters must name modules alike (all Hugging Face, kohya or llama.cpp names).

        Examples:
          ckpt combine a/ b/ -o ab/
          ckpt combine a/ b/ --weight 0.7 --weight 0.3 -o mix/ --rank 32
          ckpt combine a/ b/ -o ab.safetensors --to kohya
        """
    )

    @Argument(help: "Two or more adapters of the same model (PEFT folders, kohya files, GGUF LoRA adapters or MELoRA).")
    var adapters: [String]

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to write the combined adapter.", valueName: "OUT"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Weight of each adapter (repeatable, one per adapter in order, or one for all). Default 1.", valueName: "W"))
    var weight: [Double] = []

    @Option(name: .long, help: ArgumentHelp("Recompress every module to rank R (default: its numerical rank, lossless).", valueName: "R"))
    var rank: Int?


    @Option(name: .customLong("melora-scale"), help: ArgumentHelp("Absolute scale of MyTransformers MELoRA inputs, which do not store it.", valueName: "S"))
    var meloraScale: Double?

    @OptionGroup var writing: AdapterWriteArguments

    func run() throws {
        guard adapters.count >= 2 else { throw UsageError("give at least two adapters to combine") }
        guard weight.count <= 1 || weight.count == adapters.count else {
            throw UsageError("\(weight.count) --weight values for \(adapters.count) adapters; give one per adapter, or one for all")
        }
        guard weight.allSatisfy(\.isFinite) else { throw UsageError("--weight must be a finite number") }
        if let rank, rank < 1 { throw UsageError("--rank must be at least 1") }
        let weights = weight.count == adapters.count ? weight : Array(repeating: weight.first ?? 1, count: adapters.count)
        let loaded = try adapters.map { try AdapterChoice(format: nil, meloraScale: meloraScale).load($0) }
        let first = loaded[0]
        let outputType = try writing.outputDType(like: first)
        let layout = try writing.layout(default: first.format == .melora ? .peft : first.format)
        var options = try writing.writerOptions(sources: loaded)
        let operation = try CombineOperation(adapters: loaded, weights: weights, rank: rank, dtype: outputType, useRSLoRA: try AdapterSource.usesRSLoRA(first))
        // The first adapter's config is kept only for its own layout (a MELoRA config describes blocks).
        options.peftTemplate = first.format == .peft ? try AdapterSource.peftConfigJSON(first) : nil
        options.kohyaMetadata = [("ss_network_dim", "Dynamic"), ("ss_network_alpha", "Dynamic"), ("ss_training_comment", "combined by ckpt")]
        let written = try AdapterOutputWriter.write(operation.output, layout: layout, to: output, options: options, overwrite: writing.force)
        if writing.json {
            print(JSONEmitter(style: .python(indent: 2)).text(.object([
                JSONMember("modules", .array(operation.results.map { r in
                    .object([JSONMember("module", .string(r.module)), JSONMember("input_ranks", .array(r.inputRanks.map { .number(String($0)) })),
                             JSONMember("rank", .number(String(r.rank))), JSONMember("energy_retained", RankJSON.number(r.energyRetained))])
                })),
                JSONMember("written", .string(output)),
                JSONMember("notes", .array(written.notes.map { .string($0) })),
            ])))
        } else {
            var rows = [["module", "input ranks", "rank", "energy kept"]]
            for r in operation.results {
                rows.append([escapedForTerminal(r.module), r.inputRanks.map(String.init).joined(separator: "+"), "\(r.rank)", ResizeReport.percent(r.energyRetained)])
            }
            print(Numbers.table(rows), terminator: "")
            for note in written.notes { print("note: \(escapedForTerminal(note))") }
            print("combined \(adapters.count) adapters, \(operation.results.count) modules; wrote \(escapedForTerminal(output))")
        }
    }
}
