import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge one or more LoRA adapters into a checkpoint, streaming tensor by tensor.",
        discussion: """
        BASE is any checkpoint ckpt reads. Each ADAPTER is a PEFT folder (adapter_config.json + \
        adapter_model.safetensors or .bin), a kohya file (lora_down / lora_up / alpha), a MELoRA state \
        dict or a llama.cpp GGUF LoRA (lora_a / lora_b, scale = adapter.lora.alpha / rank); the kind is \
        detected, or forced with --adapter-format KIND

        GGUF bases keep their metadata in a .gguf output. Into a GGUF base with llama.cpp names \
        (architectures llama — Mistral converts as llama —, qwen2, qwen3, gemma, gemma2), Hugging Face \
        module names of PEFT, MELoRA and kohya adapters are mapped as gguf-py's tensor map does, and for \
        llama the Q/K rows of B permuted as llama.cpp's converter permutes W: the same bits as merging \
        first and converting. A GGUF LoRA adapter merges into a GGUF base of its own architecture (another \
        is refused, naming both) and into a Hugging Face base, its names mapped back through its \
        general.architecture's table (for llama the Q/K rows restored with the head counts of the \
        base's config.json): the same bits as merging the PEFT adapter it was made from. Quantized tensors are dequantized, merged in Float32 and quantized back to \
        their own type (--requant-fallback TYPE for types ckpt cannot quantize); --report / --json give \
        the error that adds, relative to ‖ΔW‖.

        Maths: ΔW = weight · scale · B·A per adapter, scale = lora_alpha / r (α/√r with rsLoRA; \
        rank_pattern and alpha_pattern as PEFT matches them; kohya: stored alpha / r). B·A is a Float32 \
        fused multiply-add chain over the rank in a fixed order (the same bits on every machine, and \
        PyTorch's order: Float32 merges equal PEFT's merge_and_unload bit for bit), the scale is applied \
        after the product, and each result is rounded once (nearest-even) into the base tensor's dtype. \
        DoRA: W' = m / ‖W + ΔW‖ · (W + ΔW), per output row (PEFT) or along the axis a kohya dora_scale's \
        shape gives. Also: embedding LoRA, convolution LoRA, fan_in_fan_out (GPT-2), lora_B.bias, and \
        modules_to_save tensors that replace the base's. aLoRA and PiSSA/OLoRA/CorDA-initialised \
        adapters are refused. A result that is NaN or infinite where the base was finite aborts the \
        merge, naming the module; nothing is written.

        If the base ties lm_head to its input embeddings (one stored tensor; in a GGUF base: no \
        output.weight, so llama.cpp uses token_embd.weight), an adapter touching either is refused \
        unless --untie writes a separate lm_head.weight (output.weight into GGUF).

        --residual FILE also writes what rounding lost (a safetensors file of per-element integer bit \
        differences, DoRA norms, replaced tensors and the original blocks of quantized tensors): ckpt \
        unmerge --residual FILE then restores the base bit for bit.

        Examples:
          ckpt merge base/ my-lora/ -o merged/
          ckpt merge model.safetensors a/ b/ --weight 0.7 --weight 0.3 -o out.safetensors
          ckpt merge model.safetensors lora/ -o out.safetensors --residual out.residual.safetensors
          ckpt merge model.safetensors lora/ -o out.safetensors --dry-run
          ckpt merge llama-q4_k.gguf lora.gguf -o merged-q4_k.gguf --report
        """
    )

    @Argument(help: "The base checkpoint: a file, a sharded folder or an index file.")
    var base: String

    @Argument(help: "One or more adapters (PEFT folder, kohya file, MELoRA state dict), applied in order.")
    var adapters: [String]

    @OptionGroup var adapterOptions: AdapterArguments

    @OptionGroup var outputOptions: SurgeryOutputArguments

    @Flag(name: .long, help: "Write a separate lm_head.weight (output.weight into a GGUF base) when the base ties it to the input embeddings and an adapter changes either.")
    var untie = false

    @Option(name: .long, help: ArgumentHelp("Also write the residual file that lets ckpt unmerge --residual FILE restore the base bit for bit.", valueName: "FILE"))
    var residual: String?

    @Flag(name: .customLong("dry-run"), help: "Print the plan (tensors changed, ranks, scales) with peak-memory and disk estimates; write nothing.")
    var dryRun = false

    func run() throws {
        let started = Clock.now()
        let target = try outputOptions.target()
        outputOptions.chooseWriteMode()
        let residualTarget = try residual.map { try SurgeryOutputArguments.resolve($0, shardSize: nil) }
        let (loaded, weights) = try adapterOptions.loadAdapters(adapters)
        var job = try MergeJob(basePath: base, adapters: loaded, weights: weights, options: .init(ignoreUnmatched: adapterOptions.ignoreUnmatched, untie: untie, requantFallback: adapterOptions.requantFallbackType()))
        if let threads = adapterOptions.threads { job.threads = threads }
        if dryRun {
            let estimates = [
                JSONMember("peak_memory_bytes", .number(String(job.peakMemoryEstimate))),
                JSONMember("output_bytes", .number(String(job.plan.outputBytes))),
                JSONMember("residual_bytes", .number(String(residual == nil ? 0 : job.residualBytes))),
            ]
            if outputOptions.json {
                print(JSONEmitter(style: .python(indent: 2)).text(SurgeryReport.json(command: "merge --dry-run", adapters: job.adapters, weights: weights, plan: job.plan, outcome: nil, seconds: nil, extra: estimates)))
            } else {
                print(SurgeryReport.plan(job.plan, adapters: job.adapters, weights: weights), terminator: "")
                print("estimates: peak memory \(ByteSize.describe(job.peakMemoryEstimate)) (plus page cache), output \(ByteSize.describe(job.plan.outputBytes))" + (residual == nil ? "" : ", residual ≤ \(ByteSize.describe(job.residualBytes)) before compression"))
            }
            return
        }
        let progress = ProgressLine(label: "merging", enabled: !outputOptions.quiet)
        let outcome = try job.run(to: target, overwrite: outputOptions.force, residual: residualTarget) { done, total in progress.update(done: done, total: total) }
        progress.finish()
        let seconds = Clock.now() - started
        let residualNote = outcome.residualOutputs.isEmpty ? "" : "; residual \(escapedForTerminal(outcome.residualOutputs[0]))"
        outputOptions.printOutcome(command: "merge", adapters: job.adapters, weights: weights, plan: job.plan, outcome: outcome, seconds: seconds,
                                   summary: "\(outcome.changes.count) tensors changed by \(loaded.count) adapter(s)" + residualNote)
    }
}
