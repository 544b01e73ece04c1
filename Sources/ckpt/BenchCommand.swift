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

    @Flag(name: .long, help: "Keep the generated folder.")
    var keep = false

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    func validate() throws {
        guard layers >= 1 && layers <= 64 else { throw ValidationError("--layers must be between 1 and 64") }
        guard `repeat` >= 1 && `repeat` <= 20 else { throw ValidationError("--repeat must be between 1 and 20") }
    }

    func run() throws {
        let base = dir ?? (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
        let folder = Paths.join(base, "ckpt-bench-\(getpid())")
        try Folders.create(folder)
        defer { if !keep { BenchProcess.removeTree(folder) } }
        let source = Paths.join(folder, "model.safetensors")
        let progress = ProgressLine(label: "generating", enabled: true)
        let model = try BenchModel.generate(at: source, layers: layers) { progress.update(done: $0, total: $1) }
        progress.finish()
        BenchProcess.warm(source)

        let output = Paths.join(folder, "out.safetensors")
        let executable = BenchProcess.selfExecutable()
        func measure(_ label: String, _ arguments: [String], fsyncOutput: Bool = false) throws -> BenchMeasurement {
            var runs: [BenchProcess.Result] = []
            for _ in 0..<`repeat` {
                unlink(output)
                let result = try BenchProcess.run(arguments, fsyncing: fsyncOutput ? output : nil)
                guard result.status == 0 else { throw BenchFailure(description: "\(label) exited with status \(result.status)") }
                runs.append(result)
            }
            unlink(output)
            return BenchMeasurement(label: label, runs: runs, bytes: model.bytes)
        }
        let cp = try measure("cp", ["/bin/cp", source, output])
        let cpSync = try measure("cp + fsync", ["/bin/cp", source, output], fsyncOutput: true)
        let same = try measure("convert (bf16 kept)", [executable, "convert", source, output, "--quiet"])
        let cast = try measure("convert --dtype f16", [executable, "convert", source, output, "--dtype", "f16", "--quiet"])
        let inspect = try BenchInspect.measure(source)
        let report = BenchReport(model: model, cp: cp, cpSync: cpSync, same: same, cast: cast, inspect: inspect)
        print(json ? JSONEmitter(style: .python(indent: 2)).text(report.json) : report.text)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
}
