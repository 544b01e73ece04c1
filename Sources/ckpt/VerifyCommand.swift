import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery
#if canImport(Glibc)
import Glibc
#endif

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every byte of a checkpoint and report anything wrong with it.",
        discussion: """
        Opens the checkpoint with the same validation as every other command (headers, offsets, \
        coverage, overlaps, storage sizes, pickle rules), then reads every tensor's byte range, counts NaN \
        and infinite values in each floating-point tensor (ggml block types are dequantized first), checks \
        the CRC-32 of every zip record of a PyTorch file, and checks a sharded folder's declared total \
        size. Memory stays near one chunk of 1M elements, whatever the model's size; a progress line \
        appears on stderr when it is a terminal.

        --against BASE ADAPTER... checks that PATH is the merge of the adapters into BASE: the same plan \
        as ckpt merge (adapter detection, module matching, scale rules, --weight, DoRA, lora_B.bias, \
        modules_to_save) is evaluated in float64 on --sample N seeded rows of every changed tensor (or \
        --all rows) and compared with PATH. The error is measured in ulps of the output dtype at the \
        operands' scale, |W| + |scale|·|B|·|A| (times the DoRA factor); f64 outputs in f32 ulps (the \
        merge forms ΔW in Float32). A tensor fails above --max-ulp (default 1 for 16- and 8-bit floats, \
        4 for f32/f64). Quantized (ggml) tensors are compared with the float64 row requantized by the \
        same reference quantizer, in quantization steps of the block (a step is bounded by the block's \
        largest |value| times the type's finest grid fraction, e.g. 1/127 for Q8_0); default limit 1 \
        step. Tensors the merge copies are compared byte for byte with BASE on the sampled rows.

        Exit status: 0 nothing wrong; 1 problems found (each is listed); 2 usage error; 3 the checkpoint \
        cannot be opened (its first structural error is printed); 4 I/O error.

        Examples:
          ckpt verify model.safetensors --sha256
          ckpt verify merged.safetensors --against base.safetensors my-lora/
          ckpt verify merged/ --against base/ a/ b/ --weight 0.7 --weight 0.3 --all --json
        """
    )

    @Argument(help: "A checkpoint file (zstd-compressed allowed): .safetensors, .gguf (any part of a split set), PyTorch .bin/.pt/.pth; or a sharded folder or an *.index.json.")
    var path: String

    @Flag(name: .long, help: "Also print the SHA-256 of each tensor's bytes as stored.")
    var sha256 = false

    @Flag(name: .customLong("no-values"), help: "Skip the NaN/infinity scan (only read the bytes and check checksums).")
    var noValues = false

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("PyTorch files: the dict to read as the state dict, as a dotted path (e.g. state_dict, model).", valueName: "PATH"))
    var key: String?

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Check that PATH is the merge of the ADAPTERs into BASE (see above).", valueName: "BASE ADAPTER"))
    var against: [String] = []

    @OptionGroup var adapterOptions: AdapterArguments

    @Flag(name: .long, help: "For --against checks, the merge was made with --untie (a separate lm_head.weight).")
    var untie = false

    @Option(name: .long, help: ArgumentHelp("Rows checked per tensor by --against, drawn with --seed (default 16).", valueName: "N"))
    var sample: Int = 16

    @Flag(name: .long, help: "Check every row of each tensor for --against instead of a sample.")
    var all = false

    @Option(name: .long, help: ArgumentHelp("Seed of the row sample of --against (default 0).", valueName: "S"))
    var seed: UInt64 = 0

    @Option(name: .customLong("max-ulp"), help: ArgumentHelp("Largest error a tensor may have in --against, in ulps (steps for quantized tensors), instead of 1 for 16- and 8-bit floats and quantized types, 4 for f32/f64.", valueName: "X"))
    var maxULP: Double?

    func validate() throws {
        if against.count == 1 { throw ValidationError("--against needs BASE and at least one ADAPTER") }
        if sample < 1 { throw ValidationError("--sample must be at least 1") }
        if let maxULP, !(maxULP >= 0 && maxULP.isFinite) { throw ValidationError("--max-ulp must be a finite number ≥ 0") }
    }

    func run() throws {
        let reader = try Checkpoint.open(path, torch: TorchReadOptions(key: key), decompressionProgress: CompressionProgress.line("decompressing", enabled: true))
        let progress = ProgressLine(label: "verifying", enabled: true)
        var report = CheckpointVerifier(sha256: sha256, scanValues: !noValues).verify(reader) { done, total in
            progress.update(done: done, total: total)
        }
        progress.finish()
        var check: VerifyAgainst?
        if let base = against.first {
            check = try VerifyAgainst.run(merged: reader, base: base, adapterPaths: Array(against.dropFirst()), adapterOptions: adapterOptions, untie: untie,
                                          options: MergeCheck.Options(rowsPerTensor: all ? nil : sample, seed: seed, limit: maxULP))
            report.problems += check?.report.problems ?? []
        }
        if json {
            var members = VerifyReport.json(report)
            if let check { members.append(JSONMember("against", check.json())) }
            print(JSONEmitter(style: .python(indent: 2)).text(.object(members)))
        } else {
            print(VerifyReport.text(report, digests: sha256, against: check?.text()), terminator: "")
        }
        if !report.isClean {
            // exit(3) flushes stdout first.
            Glibc.exit(ExitStatus.problemsFound)
        }
    }
}

/// `ckpt verify`'s report as text or JSON.
enum VerifyReport {
    static func text(_ report: VerificationReport, digests: Bool, against: String? = nil) -> String {
        var out = "\(escapedForTerminal(report.path))\n"
        func line(_ key: String, _ value: String) { out += "  " + key.padding(12) + " " + value + "\n" }
        line("format", report.format.rawValue)
        if report.files.count > 1 { line("files", "\(report.files.count)") }
        line("tensors", "\(Numbers.grouped(report.tensors.count)) read, \(ByteSize.describe(report.checkedBytes)) (\(Numbers.grouped(report.checkedBytes)) bytes)")
        let scanned = report.tensors.filter { $0.nonFinite != nil }.count
        line("values", "\(Numbers.grouped(scanned)) floating-point tensors scanned for NaN/infinity")
        if report.zipRecordsChecked > 0 { line("zip records", "\(Numbers.grouped(report.zipRecordsChecked)) CRC-32 checked") }
        if let against { out += against }
        if report.problems.isEmpty {
            line("result", "OK, no problems found")
        } else {
            line("result", "\(report.problems.count) problem\(report.problems.count == 1 ? "" : "s") found")
            for problem in report.problems {
                line(problem.kind.rawValue, "\(escapedForTerminal(problem.subject)): \(escapedForTerminal(problem.message))")
            }
        }
        if digests {
            out += "\n"
            for tensor in report.tensors {
                out += "\(tensor.sha256 ?? String(repeating: "-", count: 64))  \(escapedForTerminal(tensor.name))\n"
            }
        }
        return out
    }

    static func json(_ report: VerificationReport) -> [JSONMember] {
        func number(_ value: Int) -> JSONValue { .number(String(value)) }
        let tensors: [JSONValue] = report.tensors.map { tensor in
            var members = [
                JSONMember("name", .string(tensor.name)),
                JSONMember("dtype", .string(tensor.dtype.rawValue)),
                JSONMember("shape", .array(tensor.shape.map(number))),
                JSONMember("bytes", number(tensor.byteCount)),
                JSONMember("readable", .bool(tensor.readable)),
            ]
            if let counts = tensor.nonFinite {
                members.append(JSONMember("nan", number(counts.nan)))
                members.append(JSONMember("inf", number(counts.infinite)))
            }
            if let digest = tensor.sha256 { members.append(JSONMember("sha256", .string(digest))) }
            return .object(members)
        }
        let problems: [JSONValue] = report.problems.map { problem in
            .object([
                JSONMember("kind", .string(problem.kind.rawValue)),
                JSONMember("subject", .string(problem.subject)),
                JSONMember("message", .string(problem.message)),
            ])
        }
        return [
            JSONMember("path", .string(report.path)),
            JSONMember("format", .string(report.format.rawValue)),
            JSONMember("files", .array(report.files.map { .string($0) })),
            JSONMember("ok", .bool(report.isClean)),
            JSONMember("checked_bytes", number(report.checkedBytes)),
            JSONMember("zip_records_checked", number(report.zipRecordsChecked)),
            JSONMember("tensors", .array(tensors)),
            JSONMember("problems", .array(problems)),
        ]
    }
}
