import ArgumentParser
import CheckpointCore
import CheckpointFormats

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a checkpoint: change dtypes, select and rename tensors, shard or unshard.",
        discussion: """
        The output is written to a temporary file next to OUT and renamed into place only when it is \
        complete, so OUT never holds a partial file, even if ckpt is interrupted. Tensors whose dtype does \
        not change are copied inside the kernel; casts round to nearest-even and keep NaN and infinities.

        OUT ending in .safetensors writes one file. OUT naming a folder (existing, or ending in /) writes \
        a folder; with --shard-size, NAME.safetensors or a folder gets NAME-0000k-of-0000n.safetensors \
        shards and NAME.safetensors.index.json, as transformers' save_pretrained does.

        IN may be zstd-compressed (model.safetensors.zst, or any file starting with the zstd magic): it \
        is decompressed first into a temporary file in $TMPDIR (or /tmp), which needs room for the whole \
        uncompressed checkpoint, and removed afterwards. OUT ending in .zst, or --compress, writes one \
        zstd-compressed file (zstd -d gives back the plain file), compressed as it is written with one \
        thread per core, for any single-file format (model.gguf.zst too); shards and split sets cannot be \
        compressed.

        OUT ending in .bin, .pt or .pth writes a PyTorch checkpoint laid out byte for byte as torch.save \
        writes the dict of tensors (except the 40 digits of .data/serialization_id); with --shard-size, \
        NAME-0000k-of-0000n.bin shards and NAME.bin.index.json. PyTorch input is read without running its \
        pickle; tied tensors are written once (safetensors output records the other names in its metadata).

        OUT ending in .gguf writes GGUF as gguf-py's GGUFWriter does; --split-max-size or \
        --split-max-tensors split it into parts. safetensors metadata travels as GGUF keys safetensors.KEY and back, so \
        safetensors → GGUF → safetensors gives the same file. ggml-quantized tensors are copied into \
        GGUF as they are and dequantized to f32 for other formats. --arch llama maps a Hugging Face \
        folder (or a PEFT adapter folder) to llama.cpp's names and layout, and a llama GGUF (or GGUF LoRA) \
        back; --arch qwen2, qwen3, gemma or gemma2 does the same for LoRA adapters (PEFT ↔ GGUF LoRA, \
        factors unchanged).

        Examples:
          ckpt convert model.safetensors model-f16.safetensors --dtype f16
          ckpt convert big/ out/ --shard-size 5GB
          ckpt convert in.safetensors out.safetensors --exclude lm_head
          ckpt convert model.safetensors.zst model.safetensors
          ckpt convert model.safetensors small.safetensors --compress zstd:9
          ckpt convert pytorch_model.bin model.safetensors
          ckpt convert trainer.ckpt.pt model.safetensors --key state_dict
          ckpt convert Llama-3-8B/ llama.gguf --arch llama --vocab-from tok.gguf --dtype q8_0
          ckpt convert model-Q4_K_M.gguf model.safetensors
        """
    )

    @Argument(help: "The checkpoint to read: a file (zstd-compressed allowed), a sharded folder or an index file.")
    var input: String

    @Argument(help: "The output file or folder.")
    var output: String

    @Option(name: .long, help: ArgumentHelp("Output format (default: from OUT's extension). Values: safetensors, pytorch.", valueName: "FORMAT"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Cast floating-point (and ggml-quantized) tensors to this dtype: f32, f16, bf16, f64, f8_e4m3, f8_e5m2, f8_e4m3fnuz, f8_e5m2fnuz, f8_e8m0; for GGUF output also q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, tq1_0, tq2_0, mxfp4 (1-D tensors and rows that are not whole blocks stay in float, as llama.cpp does).", valueName: "DTYPE"))
    var dtype: String?

    @Option(name: .customLong("dtype-map"), help: ArgumentHelp("Per-tensor dtype: tensors whose input name matches REGEX get TYPE before --dtype (first matching rule wins); repeatable.", valueName: "REGEX=TYPE"))
    var dtypeMap: [String] = []

    @Option(name: .customLong("int-dtype"), help: ArgumentHelp("Also cast integer tensors to this integer dtype (values must fit).", valueName: "DTYPE"))
    var intDType: String?

    @Option(name: .long, help: ArgumentHelp("Keep only tensors whose name matches REGEX (repeatable).", valueName: "REGEX"))
    var include: [String] = []

    @Option(name: .long, help: ArgumentHelp("Drop tensors whose name matches REGEX (repeatable).", valueName: "REGEX"))
    var exclude: [String] = []

    @Option(name: .long, help: ArgumentHelp("Rename tensors: replace matches of regex FROM by TO ($1 for groups); repeatable, applied in order.", valueName: "FROM=TO"))
    var rename: [String] = []

    @Option(name: .customLong("shard-size"), help: ArgumentHelp("Split the output into shards of at most SIZE (5GB = 5·10⁹ bytes, 5GiB = 5·2³⁰).", valueName: "SIZE"))
    var shardSize: String?

    @Option(name: .long, help: ArgumentHelp("Compress the output with zstd at LEVEL 1–19 (default 3), writing OUT.zst; OUT.zst alone implies zstd:3.", valueName: "zstd[:LEVEL]"))
    var compress: String?

    @OptionGroup var torch: TorchOptions

    @Option(name: .customLong("split-max-size"), help: ArgumentHelp("GGUF output: split into parts of at most SIZE of tensor data, as gguf-py and llama-gguf-split do (NAME-0000k-of-0000n.gguf).", valueName: "SIZE"))
    var splitMaxSize: String?

    @Option(name: .customLong("split-max-tensors"), help: ArgumentHelp("GGUF output: split into parts of at most N tensors.", valueName: "N"))
    var splitMaxTensors: Int?

    @Option(name: .long, help: ArgumentHelp("Map tensor names, Q/K rows and hyper-parameters between a Hugging Face folder (config.json) and llama.cpp's GGUF layout, either way. Values: llama (Llama, Mistral); for LoRA adapters also qwen2, qwen3, gemma, gemma2.", valueName: "ARCH"))
    var arch: String?

    @Option(name: .customLong("vocab-from"), help: ArgumentHelp("With --arch, copy the tokenizer.* keys of this GGUF file into the output.", valueName: "FILE.gguf"))
    var vocabFrom: String?

    @Option(name: .customLong("base-config"), help: ArgumentHelp("With --arch and an adapter (a PEFT folder, or a GGUF LoRA converted to a PEFT folder OUT/): the base model's config.json or its folder, for the head counts of the Q/K permutation (llama); its architecture must be the one --arch names.", valueName: "PATH"))
    var baseConfig: String?

    @Flag(name: .long, help: "Replace OUT if it exists.")
    var force = false

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "No progress line and no report.")
    var quiet = false

    @Flag(name: .customLong("page-cache"), help: "Write the output through the page cache. By default it goes to the disk directly (O_DIRECT, where the file system supports it), which keeps the disk streaming and the page cache for the input.")
    var pageCache = false

    func run() throws {
        AtomicOutput.directWrites.store(!pageCache, ordering: .relaxed)
        let floatType = try dtype.map { try parseDType($0, option: "--dtype") }
        let intType = try intDType.map { try parseDType($0, option: "--int-dtype") }
        var maxShard: Int?
        if let shardSize {
            guard let size = ByteSize.parse(shardSize) else { throw UsageError("--shard-size '\(shardSize)' is not a size (examples: 5GB, 500MB, 2GiB)") }
            maxShard = size
        }
        let compression = try OutputCompression.resolve(output: output, option: compress)
        var target: OutputTarget
        do {
            target = try OutputTarget.resolve(path: compression?.plainPath ?? output, format: to, shardSize: maxShard)
            if splitMaxSize != nil || splitMaxTensors != nil {
                if compression != nil { throw UsageError("--split-max-size / --split-max-tensors write several files and --compress writes one; drop one of them") }
                let size = try splitMaxSize.map { text in
                    guard let size = ByteSize.parse(text), size > 0 else { throw UsageError("--split-max-size '\(text)' is not a size (examples: 2GB, 500MB)") }
                    return size
                } ?? 0
                guard (splitMaxTensors ?? 1) > 0 else { throw UsageError("--split-max-tensors must be at least 1") }
                target = try target.splitting(maxSize: size, maxTensors: splitMaxTensors ?? 0)
            }
        } catch let error as OutputTarget.ResolutionError {
            throw UsageError(error.description)
        }
        let started = Clock.now()
        let reader = try Checkpoint.open(input, torch: torch.readOptions, decompressionProgress: CompressionProgress.line("decompressing", enabled: !quiet))
        let selection = try TensorSelection(include: include, exclude: exclude, renames: rename)
        let rules = try DTypeRules(dtypeMap)
        if !target.storesBlockTypes, let quantized = ([floatType].compactMap { $0 } + rules.types).first(where: \.isBlockQuantized) {
            throw UsageError("\(quantized.userName) is a ggml block type: only GGUF output holds it; write a .gguf file")
        }
        var plan = try ConversionPlan(tensors: reader.tensors, selection: selection, floatDType: floatType, intDType: intType, rules: rules)
        var carried = reader.metadata
        var notes: [String] = []
        var sidecar: (name: String, bytes: [UInt8])?
        if !target.storesBlockTypes {
            let dequantized = try plan.dequantizeBlockTypes()
            if dequantized > 0 { notes.append("\(dequantized) ggml-quantized tensor(s) dequantized to f32 (the output format has no ggml block types)") }
        }
        if !plan.keptInFloat.isEmpty {
            notes.append("\(plan.keptInFloat.count) tensor(s) kept in float (1-D, or rows not a whole number of blocks), as llama.cpp does")
        }
        if let prepared = try prepareArchitecture(reader: reader, plan: &plan, target: &target) {
            carried = prepared.metadata
            notes += prepared.notes
            sidecar = prepared.sidecar
        }
        // Tied tensors: the reader's, and for PyTorch output also those a safetensors source records.
        let implied = target.isPyTorch ? reader.metadata.savedModelAliases(tensorNames: reader.tensors.map(\.name)) : []
        let aliases = plan.outputAliases(reader.metadata.aliases + implied, selection: selection)
        let writer: any CheckpointWriter
        let dropped: Int
        if let compression {
            let compressing = try compression.makeWriter(format: to, shardSize: maxShard, carrying: carried, tensors: plan.outputTensors, aliases: aliases, overwrite: force)
            (writer, dropped) = (compressing, compression.droppedKeys(carrying: carried, format: to))
        } else {
            (writer, dropped) = try target.makeWriter(carrying: carried, tensors: plan.outputTensors, aliases: aliases, overwrite: force)
        }
        if !quiet && !json {
            for note in notes { Terminal.printError("ckpt: note: \(note)") }
            if dropped > 0 {
                Terminal.printError("ckpt: note: \(dropped) GGUF key/values are not carried: safetensors metadata holds strings only (keys named safetensors.* are)")
            }
            for key in reader.metadata.gguf?.nestedArrayKeys ?? [] where target.storesBlockTypes {
                Terminal.printError("ckpt: warning: key '\(escapedForTerminal(key))' holds an array of arrays: llama.cpp will refuse the output (gguf-py reads it)")
            }
        }
        let progress = ProgressLine(label: "converting", enabled: !quiet)
        // The sidecar (config.json) is staged first and committed only after the weights are.
        let sidecarOutput: AtomicOutput?
        do {
            sidecarOutput = try sidecar.map { file in
                let output = try AtomicOutput(destination: Paths.join(Paths.folder(of: writer.outputPaths[0]), file.name), overwrite: force)
                try output.write(file.bytes)
                return output
            }
        } catch {
            writer.abort()
            throw error
        }
        do {
            try Converter(reader: reader, plan: plan).run(into: writer) { done, total in progress.update(done: done, total: total) }
        } catch {
            sidecarOutput?.abort()
            throw error
        }
        try sidecarOutput?.commit()
        progress.finish()
        let seconds = Clock.now() - started
        guard !quiet else { return }
        let casts = plan.items.filter(\.isCast).count
        if json {
            let report = JSONValue.object([
                JSONMember("input", .string(input)),
                JSONMember("outputs", .array(writer.outputPaths.map { .string($0) })),
                JSONMember("tensors", .number(String(plan.items.count))),
                JSONMember("cast_tensors", .number(String(casts))),
                JSONMember("bytes", .number(String(plan.outputBytes))),
                JSONMember("seconds", .number(ByteSize.formatted(seconds, decimals: 3))),
            ] + CompressionProgress.jsonMembers(writer))
            print(JSONEmitter(style: .python(indent: 2)).text(report))
        } else {
            let files = writer.outputPaths.count == 1 ? escapedForTerminal(writer.outputPaths[0]) : "\(writer.outputPaths.count) files in \(escapedForTerminal(Paths.folder(of: writer.outputPaths[0])))"
            print("wrote \(files): \(plan.items.count) tensors (\(casts) cast), \(ByteSize.describe(plan.outputBytes))\(CompressionProgress.summary(writer)) in \(ByteSize.formatted(seconds, decimals: 2)) s")
        }
    }
}

func parseDType(_ text: String, option: String) throws -> DType {
    guard let type = DType(userName: text) else {
        let known = DType.allCases.map(\.userName).joined(separator: ", ")
        throw UsageError("\(option) '\(text)' is not a dtype; known: \(known)")
    }
    return type
}
