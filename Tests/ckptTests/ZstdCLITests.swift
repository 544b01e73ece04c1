import Testing
import Foundation

/// `ckpt inspect` / `convert` on zstd-compressed files, with TMPDIR pointed at a private folder so that
/// every decompressed copy can be seen to disappear (after success, failure and SIGTERM).
@Suite struct ZstdCLITests {
    static let fixtures = repositoryFixtures + "/zstd"

    /// The tests that need the `zstd` command run when it is installed, and always in CI
    /// (CKPT_REQUIRE_PYTHON=1 asks for every reference tool), where its absence fails them.
    static let zstdInstalled: Bool = {
        if ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" { return true }
        return ZstdCLITests.zstdRuns()
    }()

    /// Runs ckpt with TMPDIR set to `scratch`.
    func ckpt(_ arguments: [String], scratch: String) throws -> Run {
        try ckptTests.ckpt(arguments, environment: ["TMPDIR": scratch])
    }

    func names(_ folder: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: folder).sorted() }

    @Test func inspectReadsACompressedFile() throws {
        let scratch = try temporaryFolder("zstd-inspect")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let plain = try ckpt(["inspect", repositoryFixtures + "/safetensors/small_model.safetensors", "--json", "--tensors"], scratch: scratch)
        for name in ["small_model.safetensors.zst", "small_model_named_without_zst.safetensors"] {
            let run = try ckpt(["inspect", Self.fixtures + "/" + name, "--json", "--tensors"], scratch: scratch)
            #expect(run.status == 0, "\(run.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let reference = try #require(try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
            let compression = try #require(report["compression"] as? [String: Any])
            #expect(compression["format"] as? String == "zstd")
            #expect(compression["decompressed_bytes"] as? Int == 15560)
            #expect(report["parameter_count"] as? Int == reference["parameter_count"] as? Int)
            let tensors = try #require(report["tensors"] as? [[String: Any]])
            let referenceTensors = try #require(reference["tensors"] as? [[String: Any]])
            #expect(tensors.map { $0["name"] as? String } == referenceTensors.map { $0["name"] as? String })
            #expect(tensors.map { $0["begin"] as? Int } == referenceTensors.map { $0["begin"] as? Int })
            #expect(tensors.allSatisfy { $0["file"] as? String == Self.fixtures + "/" + name })
            #expect(try names(scratch).isEmpty, "left in TMPDIR: \((try? names(scratch)) ?? [])")
        }
        let text = try ckpt(["inspect", Self.fixtures + "/small_model.safetensors.zst"], scratch: scratch)
        #expect(text.stdout.contains("compressed   zstd, "))
        #expect(try ckpt(["inspect", "--help"], scratch: scratch).stdout.contains("zstd-compressed allowed"))
        // A TMPDIR that does not exist is an I/O error that says what to change.
        let missing = try ckpt(["inspect", Self.fixtures + "/small_model.safetensors.zst"], scratch: scratch + "/missing")
        #expect(missing.status == 4 && missing.stderr.contains("set TMPDIR"), "\(missing.stderr)")
    }

    @Test(.enabled(if: ZstdCLITests.zstdInstalled, "the zstd command is not installed (apt install zstd)"))
    func convertDecompressesAndCompresses() throws {
        let zstd = try requireZstd()
        let scratch = try temporaryFolder("zstd-convert-tmp")
        let folder = try temporaryFolder("zstd-convert")
        defer {
            try? FileManager.default.removeItem(atPath: scratch)
            try? FileManager.default.removeItem(atPath: folder)
        }
        let plain = repositoryFixtures + "/safetensors/small_model.safetensors"
        // Decompressing conversion: the same bytes as converting the original.
        #expect(try ckpt(["convert", plain, folder + "/reference.safetensors", "--quiet"], scratch: scratch).status == 0)
        let run = try ckpt(["convert", Self.fixtures + "/small_model.safetensors.zst", folder + "/from_zst.safetensors"], scratch: scratch)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/from_zst.safetensors")) == Data(contentsOf: URL(fileURLWithPath: folder + "/reference.safetensors")))
        // --compress appends .zst; a .zst name alone implies level 3; --compress keeps a .zst name.
        let compressed = try ckpt(["convert", plain, folder + "/c.safetensors", "--compress", "zstd:7", "--json"], scratch: scratch)
        #expect(compressed.status == 0, "\(compressed.stderr)")
        #expect(compressed.stdout.contains("\"level\": 7"))
        #expect(try ckpt(["convert", plain, folder + "/d.safetensors.zst", "--quiet"], scratch: scratch).status == 0)
        #expect(try ckpt(["convert", plain, folder + "/e.safetensors.zst", "--compress", "zstd:19", "--quiet"], scratch: scratch).status == 0)
        #expect(try names(folder) == ["c.safetensors.zst", "d.safetensors.zst", "e.safetensors.zst", "from_zst.safetensors", "reference.safetensors"])
        for name in ["c", "d", "e"] {
            let restored = folder + "/\(name).restored"
            let result = try Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: [zstd, "-d", "-q", folder + "/\(name).safetensors.zst", "-o", restored])
            result.waitUntilExit()
            #expect(result.terminationStatus == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: restored)) == Data(contentsOf: URL(fileURLWithPath: folder + "/reference.safetensors")), "\(name)")
        }
        // GGUF and PyTorch outputs compress too, and read back as what they are.
        for (name, format) in [("g.gguf", "\"format\": \"gguf\""), ("t.bin", "\"format\": \"pytorch")] {
            let written = try ckpt(["convert", plain, folder + "/" + name, "--compress", "zstd", "--quiet"], scratch: scratch)
            #expect(written.status == 0, "\(name): \(written.stderr)")
            let inspected = try ckpt(["inspect", folder + "/\(name).zst", "--json"], scratch: scratch)
            #expect(inspected.status == 0 && inspected.stdout.contains(format), "\(name): \(inspected.stdout) \(inspected.stderr)")
            #expect(inspected.stdout.contains("\"decompressed_bytes\""))
            try FileManager.default.removeItem(atPath: folder + "/\(name).zst")
        }
        // The existing output is refused without --force, before any work, and kept.
        let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/d.safetensors.zst"))
        let exists = try ckpt(["convert", plain, folder + "/d.safetensors", "--compress", "zstd"], scratch: scratch)
        #expect(exists.status == 2 && exists.stderr.contains("--force"), "\(exists.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/d.safetensors.zst")) == before)
        // Usage mistakes.
        for arguments in [["--compress", "zstd:20"], ["--compress", "gzip"], ["--compress", "zstd", "--shard-size", "1KB"]] {
            let refused = try ckpt(["convert", plain, folder + "/u.safetensors"] + arguments, scratch: scratch)
            #expect(refused.status == 2, "\(arguments): \(refused.stderr)")
        }
        #expect(try ckpt(["convert", plain, folder + "/sub/", "--compress", "zstd"], scratch: scratch).status == 2)
        #expect(try names(scratch).isEmpty)
        #expect(!(try names(folder)).contains { $0.hasPrefix(".") || $0.hasPrefix("u.") })
    }

    /// Every malformed compressed file: exit status 3, a message naming the file, no output, and no
    /// decompressed copy left in TMPDIR.
    @Test func malformedCompressedInputsLeaveNothing() throws {
        let scratch = try temporaryFolder("zstd-malformed-tmp")
        let output = try temporaryFolder("zstd-malformed")
        defer {
            try? FileManager.default.removeItem(atPath: scratch)
            try? FileManager.default.removeItem(atPath: output)
        }
        let folder = Self.fixtures + "/malformed"
        let files = try names(folder)
        #expect(files.count == 15)
        for name in files {
            let run = try ckpt(["convert", folder + "/" + name, output + "/out.safetensors.zst"], scratch: scratch)
            #expect(run.status == 3, "\(name): \(run.status) \(run.stderr)")
            #expect(run.stderr.hasPrefix("ckpt: error: ") && run.stderr.contains(name), "\(name): \(run.stderr)")
            #expect(try names(output).isEmpty, "\(name) left output behind")
            #expect(try names(scratch).isEmpty, "\(name) left a decompressed copy behind")
        }
    }

    @Test(.enabled(if: ZstdCLITests.zstdInstalled, "the zstd command is not installed (apt install zstd)"))
    func sigtermWhileDecompressingRemovesTheCopy() throws {
        let zstd = try requireZstd()
        let folder = try temporaryFolder("zstd-sigterm-read")
        let scratch = folder + "/tmp"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try interrupt(sizes: 48 << 20, prepare: { count in
            try writeF32Checkpoint(folder + "/in.safetensors", count: count)
            let made = try Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: [zstd, "-q", "-f", "-1", "--rm", folder + "/in.safetensors"])
            made.waitUntilExit()
        }, arguments: ["inspect", folder + "/in.safetensors.zst"], scratch: scratch, underWay: { (try? self.names(scratch))?.isEmpty == false }) {
            let left = try self.names(scratch)
            #expect(left.isEmpty, "left in TMPDIR: \(left)")
        }
    }

    @Test func sigtermWhileCompressingLeavesNoOutput() throws {
        let folder = try temporaryFolder("zstd-sigterm-write")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = folder + "/out.safetensors.zst"
        var seen: Date?
        try interrupt(sizes: 48 << 20, prepare: { count in
            // A run that finished before the signal left its output; the next try starts without it.
            try? FileManager.default.removeItem(atPath: output)
            try writeF32Checkpoint(folder + "/in.safetensors", count: count)
            seen = nil
        }, arguments: ["convert", folder + "/in.safetensors", output, "--compress", "zstd:19", "--quiet"], scratch: folder, underWay: {
            // The temporary output has existed for 50 ms: compression is under way. (Its size says
            // little: the output reaches the disk in 8 MiB buffers. Half a second was too long on
            // fast machines, where this periodic input compresses in less.)
            let names = (try? self.names(folder)) ?? []
            guard names.contains(where: { $0.hasPrefix(".out.safetensors.zst.ckpt-tmp-") }) else { return false }
            if seen == nil { seen = Date() }
            return Date().timeIntervalSince(seen ?? Date()) > 0.05
        }) {
            let left = try self.names(folder)
            #expect(left == ["in.safetensors"], "left behind: \(left)")
        }
    }

    /// Runs ckpt on inputs of growing size until a SIGTERM lands while `underWay` holds, then checks.
    func interrupt(sizes start: Int, prepare: (Int) throws -> Void, arguments: [String], scratch: String, underWay: () -> Bool, check: () throws -> Void) throws {
        var count = start
        var statuses: [Int32] = []
        for _ in 0..<3 {
            try prepare(count)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ckptBinary)
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(["TMPDIR": scratch]) { $1 }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline && process.isRunning && !underWay() { usleep(200) }
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
            statuses.append(process.terminationStatus)
            if process.terminationStatus == 128 + SIGTERM {
                try check()
                return
            }
            count *= 2
        }
        Issue.record("ckpt always finished before SIGTERM arrived (exit statuses \(statuses))")
    }

    func requireZstd() throws -> String {
        try #require(Self.zstdRuns(), "the zstd command is needed (apt install zstd; .ci/setup installs it)")
        return "zstd"
    }

    /// Whether `zstd --version` runs.
    static func zstdRuns() -> Bool {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["zstd", "--version"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }
}
