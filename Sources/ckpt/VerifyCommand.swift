import ArgumentParser
import CheckpointCore
import CheckpointFormats
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

        Exit status: 0 nothing wrong; 1 problems found (each is listed); 2 usage error; 3 the checkpoint \
        cannot be opened (its first structural error is printed); 4 I/O error.
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

    func run() throws {
        let reader = try Checkpoint.open(path, torch: TorchReadOptions(key: key), decompressionProgress: CompressionProgress.line("decompressing", enabled: true))
        let progress = ProgressLine(label: "verifying", enabled: true)
        let report = CheckpointVerifier(sha256: sha256, scanValues: !noValues).verify(reader) { done, total in
            progress.update(done: done, total: total)
        }
        progress.finish()
        if json {
            print(JSONEmitter(style: .python(indent: 2)).text(VerifyReport.json(report)))
        } else {
            print(VerifyReport.text(report, digests: sha256), terminator: "")
        }
        if !report.isClean {
            // exit(3) flushes stdout first.
            Glibc.exit(ExitStatus.problemsFound)
        }
    }
}

/// `ckpt verify`'s report as text or JSON.
enum VerifyReport {
    static func text(_ report: VerificationReport, digests: Bool) -> String {
        var out = "\(escapedForTerminal(report.path))\n"
        func line(_ key: String, _ value: String) { out += "  " + key.padding(12) + " " + value + "\n" }
        line("format", report.format.rawValue)
        if report.files.count > 1 { line("files", "\(report.files.count)") }
        line("tensors", "\(Numbers.grouped(report.tensors.count)) read, \(ByteSize.describe(report.checkedBytes)) (\(Numbers.grouped(report.checkedBytes)) bytes)")
        let scanned = report.tensors.filter { $0.nonFinite != nil }.count
        line("values", "\(Numbers.grouped(scanned)) floating-point tensors scanned for NaN/infinity")
        if report.zipRecordsChecked > 0 { line("zip records", "\(Numbers.grouped(report.zipRecordsChecked)) CRC-32 checked") }
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

    static func json(_ report: VerificationReport) -> JSONValue {
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
        return .object([
            JSONMember("path", .string(report.path)),
            JSONMember("format", .string(report.format.rawValue)),
            JSONMember("files", .array(report.files.map { .string($0) })),
            JSONMember("ok", .bool(report.isClean)),
            JSONMember("checked_bytes", number(report.checkedBytes)),
            JSONMember("zip_records_checked", number(report.zipRecordsChecked)),
            JSONMember("tensors", .array(tensors)),
            JSONMember("problems", .array(problems)),
        ])
    }
}
