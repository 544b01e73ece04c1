import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct ResizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resize",
        abstract: "Reduce the rank of a LoRA adapter by SVD of its factors, per module or under a global budget.",
        discussion: """
        Each module's exact SVD comes from its factors (QR of B and Aᵀ, SVD of the r×r core); the kept \
        components become B = U·diag(σ), A = Vᵀ (σ on the up side, as kohya does), and alpha is rescaled \
        so the scale α/r (α/√r with rsLoRA) is unchanged. The output keeps the adapter's layout (a PEFT \
        folder with rank_pattern/alpha_pattern, a kohya file, or MELoRA resized block by block with each \
        block's scale baked into its B) and its modules_to_save tensors; --to writes another layout \
        (peft, kohya, gguf; MELoRA blocks are then joined exactly into one LoRA per module). Each \
        module's scale survives every layout: PEFT rank_pattern/alpha_pattern, a kohya alpha per module \
        (F32 when the factor dtype cannot hold it exactly), GGUF's single adapter.lora.alpha with the \
        ratio of any module that differs multiplied into its lora_b (listed in the notes). Between \
        Hugging Face and llama.cpp names the tensor names are those of the base model's llama.cpp \
        architecture (llama, qwen2, qwen3, gemma, gemma2), taken from --base-config (the base config.json, \
        its folder or the GGUF base) or from the adapter (a GGUF adapter's general.architecture, PEFT's \
        auto_mapping.base_model_class), which must agree; for llama the Q/K rows of B are also permuted \
        as llama.cpp's converter does, with head counts that --base-config gives. \
        DoRA adapters are refused (see docs/DESIGN.md): merge, then extract.

        Rules (one of them):
          --rank R            keep R components (also the cap of the dynamic rules; default: the module's rank)
          --sv-ratio X        kohya: keep σ > σ₁/X
          --sv-fro F          kohya: Frobenius-norm fraction F (energy F²); with --rule peft the exact
                              minimum k with Σσ² ≥ F²·Σσ² (PEFT's convert_to_lora rule)
          --sv-cumulative C   kohya: nuclear-norm fraction C
          --budget SIZE       whole adapter: factors of at most SIZE bytes (64MiB, 500KB)
          --energy E          whole adapter: keep a fraction E of Σσ² over all modules
        kohya's rules are reproduced exactly, including its +1 after a 0-based index, its clamp to \
        [1, min(out, in)] and σ₁ ≤ 1e-6 ⇒ rank 1. The global modes keep the components with the largest \
        σ² per byte first, across modules (at least one per module).

        Examples:
          ckpt resize lora/ -o lora-r16/ --rank 16
          ckpt resize lora.safetensors -o small.safetensors --sv-fro 0.9 --rank 32 --verbose
          ckpt resize lora/ -o lora-64m/ --budget 64MiB
          ckpt resize lora/ -o lora-r16.gguf --rank 16 --to gguf --base-config base-model/
        """
    )

    @Argument(help: "The adapter: a PEFT folder, a kohya file, a GGUF LoRA adapter or MELoRA.")
    var adapter: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to write the resized adapter (a folder for PEFT, a .safetensors file for kohya, a .gguf file for GGUF).", valueName: "OUT"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Keep R components per module; with a dynamic rule, the largest rank it may choose.", valueName: "R"))
    var rank: Int?

    @Option(name: .customLong("sv-ratio"), help: ArgumentHelp("kohya sv_ratio: keep singular values above σ₁/X (X > 1).", valueName: "X"))
    var svRatio: Double?

    @Option(name: .customLong("sv-fro"), help: ArgumentHelp("kohya sv_fro: keep a Frobenius-norm fraction F (0 < F ≤ 1).", valueName: "F"))
    var svFro: Double?

    @Option(name: .customLong("sv-cumulative"), help: ArgumentHelp("kohya sv_cumulative: keep a nuclear-norm fraction C (0 < C ≤ 1).", valueName: "C"))
    var svCumulative: Double?

    @Option(name: .long, help: ArgumentHelp("How --sv-fro picks k: kohya (default) or peft (exact minimum k).", valueName: "RULE"))
    var rule: String = "kohya"

    @Option(name: .long, help: ArgumentHelp("Fit all factors into SIZE bytes (64MiB, 500KB), allocating ranks across modules.", valueName: "SIZE"))
    var budget: String?

    @Option(name: .long, help: ArgumentHelp("Keep a fraction E of the energy Σσ² of the whole adapter, allocating ranks across modules.", valueName: "E"))
    var energy: Double?


    @Option(name: .customLong("adapter-format"), help: ArgumentHelp("Read ADAPTER as this kind instead of detecting it. Values: peft, kohya, melora, gguf.", valueName: "KIND"))
    var adapterFormat: String?

    @Option(name: .customLong("melora-scale"), help: ArgumentHelp("Absolute scale of a MyTransformers MELoRA input, which does not store it.", valueName: "S"))
    var meloraScale: Double?

    @Flag(name: .long, help: "Print kohya's per-module columns: sum(S) retained, fro retained, max(S) ratio.")
    var verbose = false

    @OptionGroup var writing: AdapterWriteArguments

    func selection() throws -> ResizeOperation.Selection {
        let rules = [svRatio != nil, svFro != nil, svCumulative != nil, budget != nil, energy != nil].filter { $0 }.count
        guard rules <= 1 else { throw UsageError("give one of --sv-ratio, --sv-fro, --sv-cumulative, --budget, --energy") }
        guard rule == "kohya" || rule == "peft" else { throw UsageError("--rule '\(rule)' is not kohya or peft") }
        guard rule == "kohya" || svFro != nil else { throw UsageError("--rule peft applies to --sv-fro only") }
        if let rank, rank < 1 { throw UsageError("--rank must be at least 1") }
        func fraction(_ value: Double, _ name: String) throws -> Double {
            guard value > 0, value <= 1 else { throw UsageError("\(name) must be in (0, 1], got \(value)") }
            return value
        }
        if let svRatio {
            guard svRatio > 1, svRatio.isFinite else { throw UsageError("--sv-ratio must be a finite number above 1, got \(svRatio)") }
            return .rule(.kohyaRatio(svRatio), maxRank: rank)
        }
        if let svFro {
            let f = try fraction(svFro, "--sv-fro")
            return .rule(rule == "peft" ? .peftEnergy(f * f) : .kohyaFrobenius(f), maxRank: rank)
        }
        if let svCumulative { return .rule(.kohyaCumulative(try fraction(svCumulative, "--sv-cumulative")), maxRank: rank) }
        if let budget {
            guard rank == nil else { throw UsageError("--budget allocates ranks itself; drop --rank") }
            guard let bytes = ByteSize.parse(budget), bytes > 0 else { throw UsageError("--budget '\(budget)' is not a size (examples: 64MiB, 500KB)") }
            return .global(.budget(bytes))
        }
        if let energy {
            guard rank == nil else { throw UsageError("--energy allocates ranks itself; drop --rank") }
            return .global(.energy(try fraction(energy, "--energy")))
        }
        guard let rank else { throw UsageError("say how to choose ranks: --rank, --sv-ratio, --sv-fro, --sv-cumulative, --budget or --energy") }
        return .rule(.fixed(rank), maxRank: rank)
    }

    func run() throws {
        let selection = try selection()
        let loaded = try AdapterChoice(format: adapterFormat, meloraScale: meloraScale).load(adapter)
        let outputType = try writing.outputDType(like: loaded)
        let layout = try writing.layout(default: loaded.format)
        var options = try writing.writerOptions(sources: [loaded])
        var operation = try ResizeOperation(adapter: loaded, selection: selection, dtype: outputType, useRSLoRA: try AdapterSource.usesRSLoRA(loaded))
        var written = [output]
        if loaded.format == .melora && layout == .melora {
            // Blocks keep the input's MELoRA layout, with their scales baked in (MyTransformers: lora_scaler 1).
            let naming: MELoRAWriter.Naming = FolderListing.isFolder(loaded.path) ? .official : .mytransformers
            try MELoRAWriter.write(operation.meloraModules, naming: naming, to: output, dtype: outputType, overwrite: writing.force)
        } else {
            var lora = operation.output
            if loaded.format == .melora {
                // Another layout gets the resized blocks joined exactly into one LoRA per module.
                lora.modules = zip(loaded.deltas, operation.meloraModules).map { delta, resized in
                    var joined = delta
                    joined.blocks = resized.blocks
                    return MELoRAJoin.module(joined)
                }
            }
            options.peftTemplate = try AdapterSource.peftConfigJSON(loaded)
            options.kohyaMetadata = [("ss_network_dim", "Dynamic"), ("ss_network_alpha", "Dynamic"), ("ss_training_comment", "resized by ckpt")]
            let result = try AdapterOutputWriter.write(lora, layout: layout, to: output, options: options, overwrite: writing.force)
            written = result.files
            operation.notes += result.notes
        }
        if writing.json {
            print(JSONEmitter(style: .python(indent: 2)).text(ResizeReport.json(operation, written: written)))
        } else {
            print(ResizeReport.text(operation, verbose: verbose, written: written), terminator: "")
        }
    }
}
