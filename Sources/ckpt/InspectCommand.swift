import ArgumentParser
import CheckpointCore
import CheckpointFormats

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Summarise a checkpoint from its headers, without reading tensor data.",
        discussion: """
        Prints the format, tensor and parameter counts, a histogram of dtypes with their sizes, and the \
        file metadata. Only headers are read, so inspecting a 100 GB checkpoint takes milliseconds.

        A zstd-compressed file (model.safetensors.zst, or any file starting with the zstd magic) is \
        decompressed first, streaming, into a temporary file in $TMPDIR (or /tmp) that is removed when \
        ckpt exits; that takes time and room for the whole uncompressed checkpoint. Byte ranges then \
        refer to the decompressed content.
        """
    )

    @Argument(help: "A checkpoint file (zstd-compressed allowed): .safetensors, .gguf (any part of a split set), PyTorch .bin/.pt/.pth; or a sharded folder or an *.index.json.")
    var path: String

    @Flag(name: .long, help: "List every tensor: name, dtype, shape, and byte range in its file.")
    var tensors = false

    @Option(name: .long, help: ArgumentHelp("Only count and list tensors whose name matches REGEX.", valueName: "REGEX"))
    var filter: String?

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    @OptionGroup var torch: TorchOptions

    @Flag(name: .customLong("ggml-order"), help: "With --tensors, also show each shape in ggml order (ne, innermost first), as GGUF stores it.")
    var ggmlOrder = false

    func run() throws {
        let reader = try Checkpoint.open(path, torch: torch.readOptions, decompressionProgress: CompressionProgress.line("decompressing", enabled: true))
        let selection = try TensorSelection(include: filter.map { [$0] } ?? [])
        var report = InspectReport(reader: reader, selection: selection, filtered: filter != nil)
        report.showNE = ggmlOrder
        if json {
            print(JSONEmitter(style: .python(indent: 2)).text(report.json(includeTensors: tensors)))
        } else {
            print(report.text(includeTensors: tensors), terminator: "")
        }
    }
}

/// The facts `ckpt inspect` prints, gathered once and rendered as text or JSON.
struct InspectReport {
    struct DTypeRow {
        var dtype: DType
        var tensors = 0
        var parameters = 0
        var bytes = 0
    }

    let reader: any CheckpointReader
    let selected: [Int]
    let filtered: Bool
    let rows: [DTypeRow]
    let warnings: [String]
    var showNE = false

    init(reader: any CheckpointReader, selection: TensorSelection, filtered: Bool) {
        self.reader = reader
        self.filtered = filtered
        selected = reader.tensors.indices.filter { selection.keeps(reader.tensors[$0].name) }
        var byType: [DType: DTypeRow] = [:]
        for index in selected {
            let tensor = reader.tensors[index]
            var row = byType[tensor.dtype] ?? DTypeRow(dtype: tensor.dtype)
            row.tensors += 1
            row.parameters += tensor.elementCount
            row.bytes += tensor.byteCount
            byType[tensor.dtype] = row
        }
        rows = byType.values.sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.dtype.rawValue < $1.dtype.rawValue }
        warnings = ((reader as? ShardedSafeTensorsReader)?.warnings ?? []) + InspectReport.ggufWarnings(reader)
    }

    var parameters: Int { rows.reduce(0) { $0 + $1.parameters } }
    var bytes: Int { rows.reduce(0) { $0 + $1.bytes } }

    var files: [String] {
        if let sharded = reader as? ShardedSafeTensorsReader { return sharded.shards.map(\.path) }
        if let split = reader as? GGUFSplitReader { return split.parts.map(\.path) }
        return [reader.path]
    }

    func text(includeTensors: Bool) -> String {
        var out = "\(escapedForTerminal(reader.path))\n"
        func line(_ key: String, _ value: String) { out += "  " + key.padding(12) + " " + value + "\n" }
        line("format", reader.format.rawValue)
        if let compressed = reader as? CompressedCheckpointReader {
            line("compressed", "zstd, \(ByteSize.describe(compressed.compressedBytes)) → \(ByteSize.describe(compressed.decompressedBytes)) (\(Numbers.grouped(compressed.decompressedBytes)) bytes) decompressed")
        }
        if files.count > 1 { line("files", "\(files.count) shards") }
        let count = filtered ? "\(selected.count) of \(reader.tensors.count) (matching the filter)" : "\(selected.count)"
        line("tensors", count)
        line("parameters", "\(Numbers.grouped(parameters)) (\(Numbers.short(parameters)))")
        line("tensor data", "\(ByteSize.describe(bytes)) (\(Numbers.grouped(bytes)) bytes)")
        for (number, row) in rows.enumerated() {
            let name = dtypeName(row.dtype).padding(6)
            let detail = "\(name) \(Numbers.grouped(row.tensors).leftPadding(6)) tensors  \(Numbers.grouped(row.parameters).leftPadding(15)) params  \(ByteSize.describe(row.bytes).leftPadding(9))"
            line(number == 0 ? "dtypes" : "", detail)
        }
        let metadata = reader.metadata
        if let adapter = adapterSummary { line("adapter", adapter) }
        if let gguf = metadata.gguf {
            ggufText(gguf, line: line)
        } else if let entries = metadata.safetensors, !entries.isEmpty {
            for (number, entry) in entries.enumerated() {
                line(number == 0 ? "metadata" : "", "\(escapedForTerminal(entry.key)) = \(escapedForTerminal(Numbers.abbreviated(entry.value)))")
            }
        } else {
            line("metadata", metadata.safetensors == nil ? "(none)" : "(empty)")
        }
        for (number, entry) in metadata.index.enumerated() {
            line(number == 0 ? "index" : "", "\(escapedForTerminal(entry.key)) = \(escapedForTerminal(entry.value))")
        }
        if let torch = metadata.torch {
            for (key, value) in TorchReport.lines(torch, aliases: metadata.aliases, names: reader.tensors.map(\.name)) { line(key, value) }
        }
        for warning in warnings { line("warning", escapedForTerminal(warning)) }
        if includeTensors {
            out += "\n"
            var table: [[String]] = [["NAME", "DTYPE", "SHAPE"] + (showNE ? ["NE"] : []) + ["BYTES", "FILE"]]
            for index in selected {
                let tensor = reader.tensors[index]
                let location = reader.location(of: index)
                table.append([
                    escapedForTerminal(tensor.name), dtypeName(tensor.dtype),
                    "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]",
                ] + (showNE ? ["[" + InspectReport.ne(tensor).map(String.init).joined(separator: ", ") + "]"] : []) + [
                    "\(location.offset)..<\(location.offset + location.count)",
                    escapedForTerminal(Paths.baseName(of: location.file)),
                ])
            }
            let dropFile = files.count <= 1
            out += Numbers.table(dropFile ? table.map { Array($0.dropLast()) } : table)
        }
        return out
    }

    func json(includeTensors: Bool) -> JSONValue {
        func number(_ value: Int) -> JSONValue { .number(String(value)) }
        var members: [JSONMember] = [
            JSONMember("path", .string(reader.path)),
            JSONMember("format", .string(reader.format.rawValue)),
            JSONMember("files", .array(files.map { .string($0) })),
            JSONMember("compression", (reader as? CompressedCheckpointReader).map { compressed in
                .object([
                    JSONMember("format", .string("zstd")),
                    JSONMember("compressed_bytes", number(compressed.compressedBytes)),
                    JSONMember("decompressed_bytes", number(compressed.decompressedBytes)),
                ])
            } ?? .null),
            JSONMember("tensor_count", number(selected.count)),
            JSONMember("total_tensor_count", number(reader.tensors.count)),
            JSONMember("parameter_count", number(parameters)),
            JSONMember("tensor_bytes", number(bytes)),
            JSONMember("dtypes", .object(rows.map { row in
                JSONMember(dtypeName(row.dtype), .object([
                    JSONMember("tensors", number(row.tensors)),
                    JSONMember("parameters", number(row.parameters)),
                    JSONMember("bytes", number(row.bytes)),
                ]))
            })),
        ]
        let metadata = reader.metadata
        if let gguf = metadata.gguf {
            members.append(JSONMember("metadata", ggufJSON(gguf)))
        } else {
            members.append(JSONMember("metadata", metadata.safetensors.map { entries in
                .object(entries.map { JSONMember($0.key, .string($0.value)) })
            } ?? .null))
        }
        if reader.format == .shardedSafetensors {
            members.append(JSONMember("index_metadata", .object(metadata.index.map { JSONMember($0.key, .string($0.value)) })))
        }
        if let torch = metadata.torch {
            members.append(JSONMember("pytorch", TorchReport.json(torch, aliases: metadata.aliases)))
        }
        members.append(JSONMember("warnings", .array(warnings.map { .string($0) })))
        if includeTensors {
            members.append(JSONMember("tensors", .array(selected.map { index in
                let tensor = reader.tensors[index]
                let location = reader.location(of: index)
                let ne = metadata.gguf == nil ? [] : [JSONMember("ne", .array(InspectReport.ne(tensor).map(number)))]
                return .object([
                    JSONMember("name", .string(tensor.name)),
                    JSONMember("dtype", .string(dtypeName(tensor.dtype))),
                    JSONMember("shape", .array(tensor.shape.map(number))),
                ] + ne + [
                    JSONMember("file", .string(location.file)),
                    JSONMember("begin", number(location.offset)),
                    JSONMember("end", number(location.offset + location.count)),
                ])
            })))
        }
        return .object(members)
    }
}
