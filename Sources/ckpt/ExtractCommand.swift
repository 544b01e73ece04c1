import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract a LoRA adapter from the difference between a base and a fine-tuned checkpoint.",
        discussion: """
        For every 2-D (or 4-D convolution) float tensor named *.weight that differs, ΔW = TUNED − BASE \
        is decomposed by a randomized SVD (seeded Gaussian sketch, oversampling, power iterations). The \
        residual of the sketch gives the error of the kept rank (with a bound for Float32 rounding) and a \
        lower bound of the optimal (truncated dense SVD) error; when their ratio exceeds --tolerance, the \
        module is redone with a full SVD. Quantized GGUF tensors are dequantized, and singular values \
        below the noise their quantization adds (reported per module as the noise floor) are not kept. \
        Factors: B = U·diag(σ), A = Vᵀ, lora_alpha = r (scale 1). Embeddings become \
        lora_embedding_A/B with --embed-lora, and otherwise they, norms, biases and any other changed \
        tensor, are saved whole through modules_to_save. The output is a PEFT adapter folder, or (by --to, or \
        else by the output's extension: .safetensors, .gguf) a kohya file or a llama.cpp GGUF LoRA adapter (those hold no modules_to_save: \
        such tensors are an error naming them). Changing between Hugging Face and llama.cpp names uses \
        the base's llama.cpp architecture (llama, qwen2, qwen3, gemma, gemma2) and, for llama, permutes \
        the rows of Q and K per head: both come from --base-config, or from BASE (its config.json, or \
        its GGUF metadata).

        Examples:
          ckpt extract base/ tuned/ -o extracted/ --rank 32
          ckpt extract base/ tuned/ -o extracted/ --energy 0.9 --max-rank 128
          ckpt extract base.safetensors tuned.safetensors -o out/ --sv-epsilon 1e-3 --embed-lora
          ckpt extract base/ tuned/ -o extracted.gguf --rank 16 --to gguf --base-config base/
          ckpt extract base-q8_0.gguf tuned-q8_0.gguf -o extracted.gguf --rank 64
        """
    )

    @Argument(help: "The base checkpoint (file, sharded folder or index).")
    var base: String

    @Argument(help: "The fine-tuned checkpoint, with the same tensor names and shapes.")
    var tuned: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The adapter to write: a folder (PEFT), or a .safetensors (kohya) or .gguf (GGUF) file (the layout follows the extension unless --to says otherwise).", valueName: "OUT"))
    var output: String

    @Option(name: .long, help: ArgumentHelp("Keep R components per module.", valueName: "R"))
    var rank: Int?

    @Option(name: .long, help: ArgumentHelp("Keep the fewest components holding a fraction E of each module's ‖ΔW‖² (PEFT's rule).", valueName: "E"))
    var energy: Double?

    @Option(name: .customLong("sv-epsilon"), help: ArgumentHelp("Keep the components with σ > EPS (mergekit's rule).", valueName: "EPS"))
    var svEpsilon: Double?

    @Option(name: .customLong("max-rank"), help: ArgumentHelp("The largest rank any module may get (default 128).", valueName: "R"))
    var maxRank: Int = 128

    @Flag(name: .customLong("embed-lora"), help: "Extract changed embeddings as lora_embedding_A/B instead of saving them whole.")
    var embedLoRA = false

    @Option(name: .long, help: ArgumentHelp("Extra sketch columns of the randomized SVD (default: the rank, at least 10).", valueName: "P"))
    var oversampling: Int?

    @Option(name: .customLong("power-iterations"), help: ArgumentHelp("Power iterations of the randomized SVD (default 2).", valueName: "Q"))
    var powerIterations: Int = 2

    @Option(name: .long, help: ArgumentHelp("Seed of the random sketch; the same seed gives the same bytes (default 0).", valueName: "N"))
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Redo a module with a full SVD when its error may exceed T × the optimal error (default 1.01).", valueName: "T"))
    var tolerance: Double = 1.01


    @OptionGroup var writing: AdapterWriteArguments

    func options() throws -> ExtractOperation.Options {
        let given = [rank != nil, energy != nil, svEpsilon != nil].filter { $0 }.count
        guard given == 1 else { throw UsageError("give exactly one of --rank, --energy, --sv-epsilon") }
        guard maxRank >= 1 else { throw UsageError("--max-rank must be at least 1") }
        guard (oversampling ?? 0) >= 0, powerIterations >= 0 else { throw UsageError("--oversampling and --power-iterations must not be negative") }
        guard tolerance >= 1, tolerance.isFinite else { throw UsageError("--tolerance must be a finite number ≥ 1") }
        let choice: ExtractOperation.Options.Choice
        if let rank {
            guard rank >= 1 else { throw UsageError("--rank must be at least 1") }
            choice = .rank(rank)
        } else if let energy {
            guard energy > 0, energy <= 1 else { throw UsageError("--energy must be in (0, 1], got \(energy)") }
            choice = .energy(energy)
        } else {
            guard let svEpsilon, svEpsilon >= 0, svEpsilon.isFinite else { throw UsageError("--sv-epsilon must be a finite number ≥ 0") }
            choice = .epsilon(svEpsilon)
        }
        return .init(choice: choice, maxRank: rank.map { max($0, maxRank) } ?? maxRank, embedLoRA: embedLoRA, oversampling: oversampling,
                     powerIterations: powerIterations, seed: seed, tolerance: tolerance, dtype: try writing.outputDType(like: nil))
    }

    func run() throws {
        let options = try options()
        let started = Clock.now()
        let baseReader = try Checkpoint.open(base)
        var operation = try ExtractOperation(base: baseReader, tuned: try Checkpoint.open(tuned), options: options)
        // Without --to the output's name decides, as for merge: *.gguf a llama.cpp LoRA adapter (what a
        // GGUF pair keeps its names in), *.safetensors a kohya file, anything else a PEFT folder.
        let lowered = output.lowercased()
        let layout = try writing.layout(default: lowered.hasSuffix(".gguf") ? .gguf : lowered.hasSuffix(".safetensors") ? .kohya : .peft)
        var writerOptions = try writing.writerOptions(sources: [], base: base)
        writerOptions.modulesToSave = operation.modulesToSave
        writerOptions.kohyaMetadata = [("ss_network_dim", "Dynamic"), ("ss_network_alpha", "Dynamic"), ("ss_training_comment", "extracted by ckpt")]
        let written = try AdapterOutputWriter.write(operation.output, layout: layout, to: output, options: writerOptions, overwrite: writing.force)
        operation.notes += written.notes
        let seconds = Clock.now() - started
        if writing.json {
            print(JSONEmitter(style: .python(indent: 2)).text(ExtractReport.json(operation, seconds: seconds)))
        } else {
            print(ExtractReport.text(operation, output: output, seconds: seconds), terminator: "")
        }
    }
}

/// The report of `ckpt extract`.
enum ExtractReport {
    static func text(_ operation: ExtractOperation, output: String, seconds: Double) -> String {
        // Quantized inputs add the noise floor and the components dropped below it.
        let quantized = operation.results.contains { $0.noiseFloor > 0 }
        var rows = [["module", "shape", "rank", "method", "‖ΔW−BA‖/‖ΔW‖", "× optimal (est.)"] + (quantized ? ["noise floor", "σ dropped"] : [])]
        for r in operation.results {
            rows.append([escapedForTerminal(r.module), "\(r.rows)×\(r.columns)", "\(r.rank)", r.method, formatScientific(r.relativeError),
                         r.errorRatioEstimate.isFinite ? ByteSize.formatted(r.errorRatioEstimate, decimals: 4) : "-"]
                        + (quantized ? [r.noiseFloor > 0 ? formatScientific(r.noiseFloor) : "-", "\(r.droppedBelowFloor)"] : []))
        }
        var out = Numbers.table(rows)
        if !operation.modulesToSave.isEmpty {
            out += "modules_to_save (saved whole): \(operation.modulesToSave.map(escapedForTerminal).joined(separator: ", "))\n"
        }
        let full = operation.results.filter { $0.method == "full" }.count
        out += "\(operation.results.count) LoRA modules (\(full) by full SVD), \(operation.unchanged) tensors unchanged, factors \(ByteSize.describe(operation.output.factorBytes)), \(ByteSize.formatted(seconds, decimals: 2)) s\n"
        for note in operation.notes { out += "note: \(escapedForTerminal(note))\n" }
        out += "wrote \(escapedForTerminal(output))\n"
        return out
    }

    static func json(_ operation: ExtractOperation, seconds: Double) -> JSONValue {
        .object([
            JSONMember("modules", .array(operation.results.map { r in
                .object([JSONMember("module", .string(r.module)), JSONMember("rows", .number(String(r.rows))), JSONMember("columns", .number(String(r.columns))),
                         JSONMember("rank", .number(String(r.rank))), JSONMember("method", .string(r.method)),
                         JSONMember("error", RankJSON.number(r.error)), JSONMember("norm", RankJSON.number(r.norm)),
                         JSONMember("relative_error", RankJSON.number(r.relativeError)), JSONMember("error_ratio_estimate", RankJSON.number(r.errorRatioEstimate)),
                         JSONMember("noise_floor", RankJSON.number(r.noiseFloor)), JSONMember("dropped_below_floor", .number(String(r.droppedBelowFloor)))])
            })),
            JSONMember("modules_to_save", .array(operation.modulesToSave.map { .string($0) })),
            JSONMember("unchanged", .number(String(operation.unchanged))),
            JSONMember("factor_bytes", .number(String(operation.output.factorBytes))),
            JSONMember("seconds", RankJSON.number(seconds)),
            JSONMember("notes", .array(operation.notes.map { .string($0) })),
        ])
    }
}
