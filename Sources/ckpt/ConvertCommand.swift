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
        thread per core. A folder of shards cannot be compressed.

        Examples:
          ckpt convert model.safetensors model-f16.safetensors --dtype f16
          ckpt convert big/ out/ --shard-size 5GB
          ckpt convert in.safetensors out.safetensors --exclude lm_head
          ckpt convert model.safetensors.zst model.safetensors
          ckpt convert model.safetensors small.safetensors --compress zstd:9
        """
    )

    @Argument(help: "The checkpoint to read: a file (zstd-compressed allowed), a sharded folder or an index file.")
    var input: String

    @Argument(help: "The output file or folder.")
    var output: String

    @Option(name: .long, help: ArgumentHelp("Output format (default: from OUT's extension). Values: safetensors.", valueName: "FORMAT"))
    var to: String?

    @Option(name: .long, help: ArgumentHelp("Cast floating-point tensors to this dtype: f32, f16, bf16, f64, f8_e4m3, f8_e5m2, f8_e4m3fnuz, f8_e5m2fnuz, f8_e8m0.", valueName: "DTYPE"))
    var dtype: String?

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

    @Flag(name: .long, help: "Replace OUT if it exists.")
    var force = false

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "No progress line and no report.")
    var quiet = false

    func run() throws {
        let floatType = try dtype.map { try parseDType($0, option: "--dtype") }
        let intType = try intDType.map { try parseDType($0, option: "--int-dtype") }
        var maxShard: Int?
        if let shardSize {
            guard let size = ByteSize.parse(shardSize) else { throw UsageError("--shard-size '\(shardSize)' is not a size (examples: 5GB, 500MB, 2GiB)") }
            maxShard = size
        }
        let compression = try OutputCompression.resolve(output: output, option: compress)
        let target: OutputTarget
        do {
            target = try OutputTarget.resolve(path: compression?.plainPath ?? output, format: to, shardSize: maxShard)
        } catch let error as OutputTarget.ResolutionError {
            throw UsageError(error.description)
        }
        let started = Clock.now()
        let reader = try Checkpoint.open(input, decompressionProgress: CompressionProgress.line("decompressing", enabled: !quiet))
        let selection = try TensorSelection(include: include, exclude: exclude, renames: rename)
        let plan = try ConversionPlan(tensors: reader.tensors, selection: selection, floatDType: floatType, intDType: intType)
        let writer: any CheckpointWriter
        if let compression {
            writer = try compression.makeWriter(format: to, shardSize: maxShard, metadata: reader.metadata.safetensors, tensors: plan.outputTensors, overwrite: force)
            (writer as? CompressingWriter)?.compressionProgress = CompressionProgress.line("compressing", enabled: !quiet)
        } else {
            writer = try target.makeWriter(metadata: reader.metadata.safetensors, tensors: plan.outputTensors, overwrite: force)
        }
        let progress = ProgressLine(label: "converting", enabled: !quiet)
        try Converter(reader: reader, plan: plan).run(into: writer) { done, total in progress.update(done: done, total: total) }
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
