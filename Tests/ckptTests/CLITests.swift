import Testing
import Foundation

@Suite struct CLITests {
    @Test func helpListsCommands() throws {
        let run = try ckpt(["--help"])
        #expect(run.status == 0)
        for command in ["inspect", "convert", "merge", "unmerge", "bench"] { #expect(run.stdout.contains(command)) }
        #expect(try ckpt(["convert", "--help"]).stdout.contains("--shard-size"))
    }

    @Test func exitCodesTellFailuresApart() throws {
        let folder = try temporaryFolder("exit")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeF32Checkpoint(folder + "/in.safetensors", count: 4)
        // Usage errors: unknown option, bad dtype, bad size, unknown output format.
        #expect(try ckpt(["inspect", folder + "/in.safetensors", "--bogus"]).status == 2)
        #expect(try ckpt(["convert", folder + "/in.safetensors", folder + "/o.safetensors", "--dtype", "f128"]).status == 2)
        #expect(try ckpt(["convert", folder + "/in.safetensors", folder + "/o.safetensors", "--shard-size", "lots"]).status == 2)
        #expect(try ckpt(["convert", folder + "/in.safetensors", folder + "/o.onnx"]).status == 2)
        // Invalid input file.
        try Data("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n".utf8).write(to: URL(fileURLWithPath: folder + "/lfs.safetensors"))
        let lfs = try ckpt(["inspect", folder + "/lfs.safetensors"])
        #expect(lfs.status == 3)
        #expect(lfs.stderr.contains("Git LFS pointer"))
        // I/O error: missing input.
        #expect(try ckpt(["inspect", folder + "/missing.safetensors"]).status == 4)
        // Existing output without --force.
        try writeF32Checkpoint(folder + "/o.safetensors", count: 1)
        let exists = try ckpt(["convert", folder + "/in.safetensors", folder + "/o.safetensors"])
        #expect(exists.status == 2)
        #expect(exists.stderr.contains("--force"))
        #expect(try ckpt(["convert", folder + "/in.safetensors", folder + "/o.safetensors", "--force", "--quiet"]).status == 0)
    }

    @Test func inspectJSONReportsCounts() throws {
        let folder = try temporaryFolder("inspect")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeF32Checkpoint(folder + "/in.safetensors", name: "layer.weight", count: 10)
        let run = try ckpt(["inspect", folder + "/in.safetensors", "--json", "--tensors"])
        #expect(run.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        #expect(report?["tensor_count"] as? Int == 1)
        #expect(report?["parameter_count"] as? Int == 10)
        #expect(report?["tensor_bytes"] as? Int == 40)
        #expect((report?["metadata"] as? [String: String]) == ["format": "pt"])
        let tensor = (report?["tensors"] as? [[String: Any]])?.first
        #expect(tensor?["name"] as? String == "layer.weight")
        #expect(tensor?["shape"] as? [Int] == [10])
        let size = try FileManager.default.attributesOfItem(atPath: folder + "/in.safetensors")[.size] as? Int
        #expect(tensor?["end"] as? Int == size)
        #expect(tensor?["begin"] as? Int == size.map { $0 - 40 })
        let filtered = try ckpt(["inspect", folder + "/in.safetensors", "--filter", "^nothing"])
        #expect(filtered.stdout.contains("0 of 1"))
    }

    @Test func convertCastsSelectsRenamesAndShards() throws {
        let folder = try temporaryFolder("convert")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeF32Checkpoint(folder + "/in.safetensors", name: "model.w", count: 1000)
        let run = try ckpt(["convert", folder + "/in.safetensors", folder + "/out.safetensors", "--dtype", "bf16", "--rename", "^model\\.=", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("\"cast_tensors\": 1"))
        let inspect = try ckpt(["inspect", folder + "/out.safetensors", "--json", "--tensors"])
        #expect(inspect.stdout.contains("\"name\": \"w\""))
        #expect(inspect.stdout.contains("\"BF16\""))
        let shards = try ckpt(["convert", folder + "/in.safetensors", folder + "/sharded/", "--shard-size", "1000", "--quiet"])
        #expect(shards.status == 0, "\(shards.stderr)")
        // One 4000-byte tensor larger than the cap: a single shard, so no index (as huggingface_hub does).
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/sharded") == ["model.safetensors"])
    }

    @Test func sigtermMidWriteLeavesNoDestination() throws {
        let folder = try temporaryFolder("sigterm")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var count = 48 << 20  // 192 MiB of f32; grown if a run finishes before the signal lands
        for _ in 0..<3 {
            try writeF32Checkpoint(folder + "/in.safetensors", count: count)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ckptBinary)
            process.arguments = ["convert", folder + "/in.safetensors", folder + "/out.safetensors", "--dtype", "f16", "--quiet"]
            try process.run()
            // Wait until the temporary output exists, i.e. the write is under way.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
                if names.contains(where: { $0.contains(".ckpt-tmp-") }) || !process.isRunning { break }
                usleep(500)
            }
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
            let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            if process.terminationStatus == 128 + SIGTERM {
                #expect(names == ["in.safetensors"], "left behind: \(names)")
                return
            }
            try? FileManager.default.removeItem(atPath: folder + "/out.safetensors")
            count *= 2
        }
        Issue.record("the conversion always finished before SIGTERM arrived")
    }
}

@Suite struct ManualPageTests {
    static let pages: [(String, [String])] = [("ckpt.1", []), ("ckpt-inspect.1", ["inspect"]), ("ckpt-convert.1", ["convert"]), ("ckpt-bench.1", ["bench"]), ("ckpt-merge.1", ["merge"]), ("ckpt-unmerge.1", ["unmerge"]), ("ckpt-rank.1", ["rank"]), ("ckpt-resize.1", ["resize"]), ("ckpt-extract.1", ["extract"]), ("ckpt-melora.1", ["melora"]), ("ckpt-combine.1", ["combine"]), ("ckpt-verify.1", ["verify"])]

    /// Every option `--help` lists is documented in the man page, and the page names no option the
    /// command lacks.
    @Test(arguments: pages)
    func manPageMatchesHelp(_ page: String, _ command: [String]) throws {
        let help = try ckpt(command + ["--help"]).stdout
        let text = try String(contentsOfFile: repositoryFixtures + "/../man/" + page, encoding: .utf8)
            .replacingOccurrences(of: "\\-", with: "-").replacingOccurrences(of: "\\fB", with: " ")
            .replacingOccurrences(of: "\\fI", with: " ").replacingOccurrences(of: "\\fR", with: " ")
        let helpOptions = Set(help.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" || $0 == "[" || $0 == "]" })
            .filter { $0.hasPrefix("--") }.map { String($0) })
        #expect(!helpOptions.isEmpty)
        for option in helpOptions { #expect(text.contains(option), "\(page) does not document \(option)") }
        // The OPTIONS section lists exactly the command's options.
        let optionsSection = text.components(separatedBy: ".SH OPTIONS").dropFirst().first?.components(separatedBy: ".SH ").first ?? ""
        #expect(!optionsSection.isEmpty, "\(page) has no OPTIONS section")
        let pageOptions = Set(optionsSection.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "-") })
            .filter { $0.hasPrefix("--") && $0.count > 2 }.map { String($0) })
        for option in pageOptions { #expect(helpOptions.contains(option), "\(page) documents \(option), which --help does not list") }
    }
}

@Suite struct MalformedCLITests {
    /// Converting any malformed file fails with exit status 3 and leaves nothing in the output folder.
    @Test func malformedInputsLeaveNoOutput() throws {
        let folder = repositoryFixtures + "/safetensors/malformed"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".safetensors") }.sorted()
        #expect(names.count >= 40)
        let output = try temporaryFolder("malformed")
        defer { try? FileManager.default.removeItem(atPath: output) }
        for name in names {
            let run = try ckpt(["convert", folder + "/" + name, output + "/out.safetensors", "--dtype", "f16"])
            #expect(run.status == 3, "\(name): status \(run.status) \(run.stderr)")
            #expect(run.stderr.hasPrefix("ckpt: error: "), "\(name)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: output).isEmpty, "\(name) left output behind")
        }
    }
}
