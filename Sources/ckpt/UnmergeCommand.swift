import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct UnmergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmerge",
        abstract: "Subtract merged adapters from a checkpoint, or restore the base bit for bit with the residual file of the merge.",
        discussion: """
        Give the adapters and --weight values of the merge, in the same order. Without --residual the \
        result is the merged weights minus the recomputed deltas, rounded once: close to the base but \
        not bit-exact (rounding during the merge lost bits), and DoRA merges and modules_to_save \
        replacements cannot be undone. With the residual file written by ckpt merge --residual FILE every \
        tensor is restored exactly, tensors added by --untie are dropped, and replaced tensors come back. \
        GGUF files and GGUF LoRA adapters are read as ckpt merge reads them; quantized tensors come \
        back from the residual file's original blocks (without it they are dequantized, the update \
        subtracted in Float32 and the result quantized back: approximate).

        Examples:
          ckpt unmerge merged.safetensors lora/ -o base.safetensors --residual merged.residual.safetensors
          ckpt unmerge merged/ lora/ -o approx-base/
        """
    )

    @Argument(help: "The merged checkpoint.")
    var merged: String

    @Argument(help: "The adapters of the merge, in the same order.")
    var adapters: [String]

    @OptionGroup var adapterOptions: AdapterArguments

    @OptionGroup var outputOptions: SurgeryOutputArguments

    @Option(name: .long, help: ArgumentHelp("The residual file of ckpt merge --residual FILE: restores the base bit for bit.", valueName: "FILE"))
    var residual: String?

    func run() throws {
        let started = Clock.now()
        let target = try outputOptions.target()
        outputOptions.chooseWriteMode()
        let (loaded, weights) = try adapterOptions.loadAdapters(adapters)
        var job = try UnmergeJob(mergedPath: merged, adapters: loaded, weights: weights, options: .init(ignoreUnmatched: adapterOptions.ignoreUnmatched, requantFallback: adapterOptions.requantFallbackType()), residualPath: residual)
        if let threads = adapterOptions.threads { job.threads = threads }
        let progress = ProgressLine(label: "unmerging", enabled: !outputOptions.quiet)
        let outcome = try job.run(to: target, overwrite: outputOptions.force) { done, total in progress.update(done: done, total: total) }
        progress.finish()
        let seconds = Clock.now() - started
        outputOptions.printOutcome(command: "unmerge", adapters: job.adapters, weights: weights, plan: job.plan, outcome: outcome, seconds: seconds,
                                   summary: "\(outcome.changes.count) tensors restored" + (residual == nil ? " (approximately: no --residual)" : " exactly"))
    }
}
