import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// Output options shared by `ckpt merge` and `ckpt unmerge`.
struct SurgeryOutputArguments: ParsableArguments {
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The checkpoint to write (.safetensors file, or a folder).", valueName: "OUT"))
    var output: String

    @Option(name: .customLong("shard-size"), help: ArgumentHelp("Split the output into shards of at most SIZE (5GB, 2GiB); a .gguf output into split parts of at most SIZE of tensor data, as llama-gguf-split --split-max-size does.", valueName: "SIZE"))
    var shardSize: String?

    @Flag(name: .long, help: "Print a per-tensor report: kind, rank and ‖ΔW‖/‖W‖.")
    var report = false

    @Flag(name: .long, help: "Print the plan or report as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "Replace OUT (and the residual file) if they exist.")
    var force = false

    @Flag(name: .long, help: "No progress line and no summary.")
    var quiet = false

    @Flag(name: .customLong("page-cache"), help: "Write the output through the page cache. By default it goes to the disk directly (O_DIRECT, where the file system supports it): the disk writes while the next tensors are computed and the page cache stays with the inputs.")
    var pageCache = false

    /// Chooses how the outputs about to be created are written (see `AtomicOutput.directWrites`).
    func chooseWriteMode() {
        AtomicOutput.directWrites.store(!pageCache, ordering: .relaxed)
    }

    func target() throws -> OutputTarget { try Self.resolve(output, shardSize: shardSize) }

    static func resolve(_ path: String, shardSize: String?) throws -> OutputTarget {
        var maxShard: Int?
        if let shardSize {
            guard let size = ByteSize.parse(shardSize) else { throw UsageError("--shard-size '\(shardSize)' is not a size (examples: 5GB, 500MB, 2GiB)") }
            maxShard = size
        }
        do {
            if let maxShard, path.lowercased().hasSuffix(".gguf") {
                return try OutputTarget.resolve(path: path, format: nil, shardSize: nil).splitting(maxSize: maxShard, maxTensors: 0)
            }
            return try OutputTarget.resolve(path: path, format: nil, shardSize: maxShard)
        } catch let error as OutputTarget.ResolutionError {
            throw UsageError(error.description)
        }
    }

    /// Prints the outcome as JSON, or the report table and a summary line, as the flags ask.
    func printOutcome(command: String, adapters: [Adapter], weights: [Double], plan: MergePlan, outcome: SurgeryOutcome, seconds: Double, summary: String) {
        if json {
            print(JSONEmitter(style: .python(indent: 2)).text(SurgeryReport.json(command: command, adapters: adapters, weights: weights, plan: plan, outcome: outcome, seconds: seconds)))
            return
        }
        if report { print(SurgeryReport.table(outcome.changes), terminator: "") }
        guard !quiet else { return }
        for note in plan.notes + adapters.flatMap(\.notes) { Terminal.printError("note: \(escapedForTerminal(note))") }
        for skipped in plan.skipped { Terminal.printError("skipped: \(escapedForTerminal(skipped))") }
        let files = outcome.outputs.count == 1 ? escapedForTerminal(outcome.outputs[0]) : "\(outcome.outputs.count) files in \(escapedForTerminal(Paths.folder(of: outcome.outputs[0])))"
        print("wrote \(files): \(summary) in \(ByteSize.formatted(seconds, decimals: 2)) s")
    }
}
