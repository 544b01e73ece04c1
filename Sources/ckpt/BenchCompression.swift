import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

/// The zstd part of `ckpt bench`: compressing the benchmark checkpoint at level 3 with
/// `ckpt convert SRC OUT.safetensors.zst` against `zstd -3 -T0` of the same bytes, and decompressing
/// with `ckpt convert IN.safetensors.zst OUT` against `zstd -d`, all in the same run and against cp.
/// Every command leaves a durable file (the zstd outputs are fsynced, as ckpt fsyncs its own).
struct BenchCompression {
    var cp: BenchMeasurement
    var cpSync: BenchMeasurement
    var compress: BenchMeasurement
    var decompress: BenchMeasurement
    /// nil when the zstd command is not installed.
    var cliCompress: BenchMeasurement?
    var cliDecompress: BenchMeasurement?
    var compressedBytes: Int
    var cliCompressedBytes: Int?
    var fileBytes: Int

    /// `zstd` found on PATH, if any (`posix_spawn` needs a path).
    static func zstdExecutable() -> String? {
        guard let value = getenv("PATH") else { return nil }
        for folder in String(cString: value).split(separator: ":") {
            let candidate = Paths.join(String(folder), "zstd")
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static func measure(_ model: BenchModel, in folder: BenchFolder, runs: Int, status: BenchStatus) throws -> BenchCompression {
        let ckpt = try BenchProcess.selfExecutable()
        let source = model.path
        let compressedSource = folder.file("model.safetensors.zst")
        let output = folder.file("out.safetensors")
        let zstd = zstdExecutable()
        status.show("compressing the checkpoint once for the decompression runs")
        _ = try BenchProcess.run([ckpt, "convert", source, compressedSource, "--quiet"], label: "ckpt convert → .zst")
        let compressedBytes = fileSize(compressedSource) ?? 0

        struct Case {
            var label: String
            var arguments: [String]
            var output: String
            var fsync = false
            var minimumOutput: Int
        }
        // Random bf16 keeps most of its entropy: an output under a quarter of the input means a run
        // that did not do its work.
        let compressedFloor = model.fileBytes / 4
        var cases = [
            Case(label: "cp", arguments: ["/bin/cp", source, output], output: output, minimumOutput: model.fileBytes),
            Case(label: "cp + fsync", arguments: ["/bin/cp", source, output], output: output, fsync: true, minimumOutput: model.fileBytes),
            Case(label: "ckpt convert → .zst (level 3)", arguments: [ckpt, "convert", source, output + ".zst", "--quiet"], output: output + ".zst", minimumOutput: compressedFloor),
            Case(label: "ckpt convert .zst →", arguments: [ckpt, "convert", compressedSource, output, "--quiet"], output: output, minimumOutput: model.fileBytes),
        ]
        if let zstd {
            cases += [
                Case(label: "zstd -3 -T0 + fsync", arguments: [zstd, "-3", "-T0", "-q", "-f", source, "-o", output + ".zst"], output: output + ".zst", fsync: true, minimumOutput: compressedFloor),
                Case(label: "zstd -d + fsync", arguments: [zstd, "-d", "-q", "-f", compressedSource, "-o", output], output: output, fsync: true, minimumOutput: model.fileBytes),
            ]
        }
        var results = cases.map { BenchMeasurement(label: $0.label) }
        var cliCompressedBytes: Int?
        defer {
            unlink(output)
            unlink(output + ".zst")
        }
        // Interleaved after an untimed warm-up round, as the main measurements are.
        for round in 0...runs {
            for (index, item) in cases.enumerated() {
                status.show(round == 0 ? "warm-up: \(item.label)" : "run \(round)/\(runs): \(item.label)")
                unlink(output)
                unlink(output + ".zst")
                sync()
                let result = try BenchProcess.run(item.arguments, label: item.label, fsyncing: item.fsync ? item.output : nil)
                guard let size = fileSize(item.output), size >= item.minimumOutput else {
                    throw BenchProcess.Failure(description: "\(item.label) did not write the expected output (at least \(ByteSize.describe(item.minimumOutput)))")
                }
                if item.label.hasPrefix("zstd -3") { cliCompressedBytes = size }
                if round > 0 { results[index].runs.append(result) }
            }
        }
        return BenchCompression(
            cp: results[0], cpSync: results[1], compress: results[2], decompress: results[3],
            cliCompress: zstd == nil ? nil : results[4], cliDecompress: zstd == nil ? nil : results[5],
            compressedBytes: compressedBytes, cliCompressedBytes: cliCompressedBytes, fileBytes: model.fileBytes)
    }

    private static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Throughput of `m` relative to `baseline` (> 1 is faster); nil without a baseline.
    func ratio(_ m: BenchMeasurement, _ baseline: BenchMeasurement?) -> Double? {
        baseline.map { $0.seconds / m.seconds }
    }

    private var rows: [(BenchMeasurement, BenchMeasurement?)] {
        [(cp, nil), (cpSync, nil), (compress, cliCompress), (decompress, cliDecompress)]
            + [cliCompress, cliDecompress].compactMap { $0 }.map { ($0, nil) }
    }

    var text: String {
        func format(_ value: Double?, _ decimals: Int) -> String { value.map { ByteSize.formatted($0, decimals: decimals) } ?? "-" }
        var table: [[String]] = [["zstd command", "median s", "min–max s", "GB/s", "× cp", "× cp+fsync", "× zstd CLI", "user s", "sys s", "own peak"]]
        for (m, cli) in rows {
            table.append([m.label, format(m.seconds, 3), "\(format(m.fastest, 3))–\(format(m.slowest, 3))",
                          format(m.gigabytesPerSecond(fileBytes), 2), format(ratio(m, cp), 2), format(ratio(m, cpSync), 2),
                          format(ratio(m, cli), 2), format(m.userSeconds, 3), format(m.systemSeconds, 3),
                          m.sampledPeak.map(ByteSize.describe) ?? "-"])
        }
        var out = "\n" + Numbers.table(table)
        func share(_ bytes: Int) -> String { ByteSize.formatted(Double(bytes) * 100 / Double(max(fileBytes, 1)), decimals: 1) + "%" }
        out += "compressed  ckpt (zstd 3): \(ByteSize.describe(compressedBytes)) (\(share(compressedBytes)) of the file)"
        if let cliCompressedBytes { out += "; zstd -3 -T0: \(ByteSize.describe(cliCompressedBytes)) (\(share(cliCompressedBytes)))" }
        if cliCompress == nil { out += "; the zstd command is not installed, so there is no CLI comparison" }
        return out + "\n"
    }

    var json: JSONValue {
        func number(_ value: Double?) -> JSONValue { value.flatMap { $0.isFinite ? .number(ByteSize.formatted($0, decimals: 4)) : nil } ?? .null }
        return .object([
            JSONMember("compressed_bytes", .number(String(compressedBytes))),
            JSONMember("cli_compressed_bytes", cliCompressedBytes.map { .number(String($0)) } ?? .null),
            JSONMember("measurements", .array(rows.map { m, cli in
                .object([
                    JSONMember("command", .string(m.label)),
                    JSONMember("median_seconds", number(m.seconds)),
                    JSONMember("runs_seconds", .array(m.runs.map { number($0.seconds) })),
                    JSONMember("gb_per_second", number(m.gigabytesPerSecond(fileBytes))),
                    JSONMember("ratio_to_cp", number(ratio(m, cp))),
                    JSONMember("ratio_to_cp_fsync", number(ratio(m, cpSync))),
                    JSONMember("ratio_to_zstd_cli", number(ratio(m, cli))),
                    JSONMember("median_user_seconds", number(m.userSeconds)),
                    JSONMember("sampled_peak_rss_bytes", m.sampledPeak.map { .number(String($0)) } ?? .null),
                ])
            })),
        ])
    }
}
