import ArgumentParser
import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure conversion speed and memory against cp on a generated checkpoint.",
        discussion: """
        Generates the project's benchmark checkpoint (Llama-like, bf16, hidden 2048, intermediate 5632, \
        32000 vocabulary, untied lm_head; about 0.97 GB with 8 layers) in a temporary folder, then times, \
        in the same run and with the file in the page cache: cp, cp followed by fsync (ckpt fsyncs its \
        outputs), `ckpt convert` keeping bf16, and `ckpt convert --dtype f16`. Conversions run as child \
        processes so that their peak RSS is measured. Also reports how many bytes `inspect` reads. \
        Figures are ratios to the cp baselines of the same run. The folder is removed afterwards.
        """
    )

    @Option(name: .long, help: ArgumentHelp("Folder for the temporary checkpoint (default: $TMPDIR or /tmp).", valueName: "DIR"))
    var dir: String?

    @Option(name: .long, help: "Decoder layers of the generated model (8 gives about 0.97 GB).")
    var layers = 8

    @Option(name: .long, help: "Runs per measurement; the median is reported.")
    var `repeat` = 3

    @Flag(name: .long, help: "Also time ckpt merge of a rank-16 all-linear adapter against cp+fsync plus the delta arithmetic (and a plain-torch merge when Python has torch).")
    var merge = false

    @Flag(name: .long, help: "Keep the generated folder.")
    var keep = false

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    func validate() throws {
        guard layers >= 1 && layers <= 64 else { throw ValidationError("--layers must be between 1 and 64") }
        guard `repeat` >= 1 && `repeat` <= 20 else { throw ValidationError("--repeat must be between 1 and 20") }
    }

    func run() throws {
        let parent = dir ?? getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        guard FolderListing.isFolder(parent) else { throw UsageError("--dir '\(escapedForTerminal(parent))' is not a folder") }
        // The source and one output at a time, plus room for headers and the file system's own needs.
        let needed = 2 * BenchModel.tensorBytes(layers: layers) + (merge ? 128 << 20 : 64 << 20)
        let folder = try BenchFolder(parent: parent, needed: needed, keep: keep)
        defer {
            if keep { Terminal.printError("kept \(escapedForTerminal(folder.path))") } else { folder.remove() }
        }
        let status = BenchStatus()
        defer { status.clear() }

        let progress = ProgressLine(label: "generating", enabled: true)
        let model = try BenchModel.generate(at: folder.file("model.safetensors"), layers: layers) { progress.update(done: $0, total: $1) }
        progress.finish()
        status.show("reading the checkpoint into the page cache")
        try BenchPageCache.warm(model.path)
        let residentBefore = BenchPageCache.residentFraction(model.path)

        let runs = try measure(model, in: folder, status: status)
        status.show("inspect (in-process header read)")
        let inspect = try BenchInspect.measure(model.path, runs: `repeat`)
        let report = BenchReport(
            model: model, layers: layers, machine: BenchMachine.current(folder: folder.path),
            residentBefore: residentBefore, residentAfter: BenchPageCache.residentFraction(model.path),
            cp: runs.cp, cpSync: runs.cpSync, same: runs.same, cast: runs.cast, inspectProcess: runs.inspect, inspect: inspect)
        let mergeResult = merge ? try BenchMerge.measure(model: model, layers: layers, folder: folder, repeat: `repeat`, status: status) : nil
        status.clear()
        if json {
            var value = report.json
            if case let .object(members) = value, let mergeResult { value = .object(members + [JSONMember("merge", mergeResult.json)]) }
            print(JSONEmitter(style: .python(indent: 2)).text(value))
        } else {
            print(report.text + (mergeResult?.text ?? ""), terminator: "")
        }
    }

    struct Runs {
        var cp, cpSync, same, cast, inspect: BenchMeasurement
    }

    /// Runs every command `repeat` times, interleaved (all commands once, then again) so that a drift
    /// of the machine's speed during the run affects them all alike.
    private func measure(_ model: BenchModel, in folder: BenchFolder, status: BenchStatus) throws -> Runs {
        let ckpt = try BenchProcess.selfExecutable()
        let source = model.path
        let output = folder.file("out.safetensors")
        struct Case {
            var label: String
            var arguments: [String]
            var fsync = false
            /// Bytes the output must at least have, so that a command that did nothing cannot look fast.
            var minimumOutput: Int?
        }
        let cases = [
            Case(label: "cp", arguments: ["/bin/cp", source, output], minimumOutput: model.fileBytes),
            Case(label: "cp + fsync", arguments: ["/bin/cp", source, output], fsync: true, minimumOutput: model.fileBytes),
            Case(label: "ckpt convert (bf16 kept)", arguments: [ckpt, "convert", source, output, "--quiet"], minimumOutput: model.tensorBytes),
            Case(label: "ckpt convert --dtype f16", arguments: [ckpt, "convert", source, output, "--dtype", "f16", "--quiet"], minimumOutput: model.tensorBytes),
            Case(label: "ckpt inspect", arguments: [ckpt, "inspect", source]),
        ]
        var results = cases.map { BenchMeasurement(label: $0.label) }
        defer { unlink(output) }
        // Round 0 is an untimed warm-up: executables and libraries come into the page cache, and no
        // command's first run (the only one to pay for them) is timed.
        for round in 0...`repeat` {
            for (index, item) in cases.enumerated() {
                status.show(round == 0 ? "warm-up: \(item.label)" : "run \(round)/\(`repeat`): \(item.label)")
                unlink(output)
                // Write back (and discard) what earlier runs left, so no run pays for another's I/O.
                sync()
                let result = try BenchProcess.run(item.arguments, label: item.label, fsyncing: item.fsync ? output : nil)
                if let minimum = item.minimumOutput {
                    var info = stat()
                    guard stat(output, &info) == 0, Int(info.st_size) >= minimum else {
                        throw BenchProcess.Failure(description: "\(item.label) did not write the expected \(ByteSize.describe(minimum)) output")
                    }
                }
                if round > 0 { results[index].runs.append(result) }
            }
        }
        return Runs(cp: results[0], cpSync: results[1], same: results[2], cast: results[3], inspect: results[4])
    }
}

/// A one-line status on stderr, only when stderr is a terminal (stdout carries the report).
final class BenchStatus {
    private let enabled = Terminal.stderrIsTerminal
    private var shown = false

    func show(_ text: String) {
        guard enabled else { return }
        Terminal.writeError("\r\u{1B}[2K" + text)
        shown = true
    }

    func clear() {
        guard enabled, shown else { return }
        Terminal.writeError("\r\u{1B}[2K")
        shown = false
    }
}
