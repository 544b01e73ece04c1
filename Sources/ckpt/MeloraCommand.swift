import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct MeloraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "melora",
        abstract: "Re-split a LoRA into MELoRA block-diagonal mini-LoRAs, or join MELoRA back into a LoRA.",
        discussion: """
        Split (--splits N): ΔW's input features are cut into N contiguous slices and its outputs into N; \
        block i (slice i → slice i) is kept and truncated by its exact SVD (from the sliced factors) to \
        rank rᵢ: equal ranks R/N, or with --allocate energy the R largest singular values of all blocks \
        together (the optimal split of R). That is the best block-diagonal approximation of each rank. \
        The report gives, per module, the off-diagonal energy lost ‖offdiag(ΔW)‖²/‖ΔW‖² and each \
        block's tail energy. Output: the official MELoRA folder (lora_A.i / lora_B.i, lists r and \
        lora_alpha), the MyTransformers file (weight_a.i / weight_b.i, lora_scaler 1) with --naming \
        mytransformers, or with --as-lora (--to peft) the exact dense-equivalent PEFT LoRA \
        (A = blockdiag(Aᵢ), B = blockdiag(Bᵢ)); --to kohya or gguf writes that LoRA as a kohya file or a \
        GGUF adapter (GGUF needs the architecture: --base-config, or the adapter's own; for llama also \
        the head counts of the Q/K row permutation). Every module's dimensions must be divisible by N; otherwise the error lists \
        the N that work.

        Join (--join): a MELoRA adapter becomes a PEFT LoRA with the same ΔW exactly (--to kohya or \
        gguf for those layouts).

        Examples:
          ckpt melora lora/ -o melora/ --splits 4
          ckpt melora lora/ -o melora/ --splits 4 --rank 32 --allocate energy --naming mytransformers
          ckpt melora lora/ -o as-lora/ --splits 2 --as-lora
          ckpt melora melora/ -o lora/ --join
        """
    )

    @Argument(help: "The adapter: a PEFT folder or kohya file to split, or a MELoRA adapter to join.")
    var adapter: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to write: a folder (official MELoRA, PEFT) or a .safetensors file (mytransformers).", valueName: "OUT"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Number of diagonal blocks N.", valueName: "N"))
    var splits: Int?

    @Option(name: .long, help: ArgumentHelp("Total rank R per module over all blocks (default: the module's rank).", valueName: "R"))
    var rank: Int?

    @Option(name: .long, help: ArgumentHelp("Block ranks: equal (R/N each, default) or energy (the R largest σ over all blocks).", valueName: "HOW"))
    var allocate: String = "equal"

    @Option(name: .long, help: ArgumentHelp("MELoRA layout: official (default) or mytransformers.", valueName: "NAMING"))
    var naming: String = "official"

    @Flag(name: .customLong("as-lora"), help: "Write the split as the exact dense-equivalent PEFT LoRA instead of a MELoRA layout (the same as --to peft).")
    var asLoRA = false

    @Flag(name: .long, help: "Join a MELoRA adapter into a plain LoRA (exact): PEFT, or the layout --to names.")
    var join = false

    @Option(name: .customLong("melora-scale"), help: ArgumentHelp("Absolute scale of a MyTransformers MELoRA input, which does not store it.", valueName: "S"))
    var meloraScale: Double?


    @OptionGroup var writing: AdapterWriteArguments

    func run() throws {
        let loaded = try AdapterChoice(format: nil, meloraScale: meloraScale).load(adapter)
        let outputType = try writing.outputDType(like: loaded)
        if join {
            guard splits == nil, rank == nil, !asLoRA else { throw UsageError("--join takes no --splits, --rank or --as-lora") }
            guard loaded.format == .melora else { throw UsageError("--join needs a MELoRA adapter; \(adapter) is \(loaded.format.rawValue)") }
            let layout = try writing.layout(default: .peft)
            let output = LoRAOutput(modules: loaded.deltas.map(MELoRAJoin.module), dtype: outputType)
            let written = try AdapterOutputWriter.write(output, layout: layout, to: self.output, options: try writing.writerOptions(sources: [loaded]), overwrite: writing.force)
            for note in written.notes where !writing.json { print("note: \(escapedForTerminal(note))") }
            if !writing.json { print("joined \(loaded.deltas.count) modules (total rank \(loaded.deltas.map(\.rank).reduce(0, +))) into \(escapedForTerminal(self.output))") }
            else { print(JSONEmitter(style: .python(indent: 2)).text(.object([JSONMember("joined", .number(String(loaded.deltas.count))), JSONMember("written", .string(self.output))]))) }
            return
        }
        guard let splits else { throw UsageError("give --splits N (or --join)") }
        guard splits >= 2 else { throw UsageError("--splits must be at least 2") }
        if let rank, rank < 1 { throw UsageError("--rank must be at least 1") }
        guard let how = ["equal": MELoRASplit.Allocation.equal, "energy": .energy][allocate] else { throw UsageError("--allocate '\(allocate)' is not equal or energy") }
        guard let meloraNaming = MELoRAWriter.Naming(rawValue: naming) else { throw UsageError("--naming '\(naming)' is not official or mytransformers") }
        if asLoRA, writing.to != nil { throw UsageError("--as-lora is --to peft; give one of them") }
        let layout: AdapterFormat = asLoRA ? .peft : try writing.layout(default: .melora)
        let options = try writing.writerOptions(sources: [loaded])
        let split = try MELoRASplit(adapter: loaded, splits: splits, totalRank: rank, allocation: how)
        if layout != .melora {
            let modules = split.modules.map { entry -> LoRAOutput.Module in
                var delta = entry.delta
                delta.blocks = entry.blocks
                return MELoRAJoin.module(delta)
            }
            var lora = LoRAOutput(modules: modules, dtype: outputType)
            lora.naming = ModuleNaming(of: loaded)
            let written = try AdapterOutputWriter.write(lora, layout: layout, to: output, options: options, overwrite: writing.force)
            for note in written.notes where !writing.json { print("note: \(escapedForTerminal(note))") }
        } else {
            try MELoRAWriter.write(split, naming: meloraNaming, to: output, dtype: outputType, overwrite: writing.force)
        }
        if writing.json {
            print(JSONEmitter(style: .python(indent: 2)).text(.object([
                JSONMember("splits", .number(String(splits))),
                JSONMember("modules", .array(split.results.map { r in
                    .object([JSONMember("module", .string(r.module)), JSONMember("block_ranks", .array(r.blockRanks.map { .number(String($0)) })),
                             JSONMember("energy", RankJSON.number(r.energy)), JSONMember("off_diagonal_fraction", RankJSON.number(r.offDiagonalFraction)),
                             JSONMember("block_tail_energy", .array(r.blockTailEnergy.map(RankJSON.number))), JSONMember("lost_fraction", RankJSON.number(r.lostFraction))])
                })),
                JSONMember("written", .string(output)),
            ])))
        } else {
            var rows = [["module", "block ranks", "off-diagonal lost", "block tails lost", "total lost"]]
            for r in split.results {
                let tails = r.energy > 0 ? r.blockTailEnergy.map { ResizeReport.percent($0 / r.energy) }.joined(separator: " ") : "-"
                rows.append([escapedForTerminal(r.module), r.blockRanks.map(String.init).joined(separator: ","), ResizeReport.percent(r.offDiagonalFraction), tails, ResizeReport.percent(r.lostFraction)])
            }
            print(Numbers.table(rows), terminator: "")
            print("energy fractions of each module's ‖ΔW‖²; wrote \(escapedForTerminal(output))")
        }
    }
}
