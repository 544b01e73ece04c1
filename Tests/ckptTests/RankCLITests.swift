import Testing
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// `ckpt rank`, `resize`, `extract`, `melora`, `combine` from the command line.
@Suite struct RankCLITests {
    let rank = repositoryFixtures + "/rank"

    func json(_ run: Run) throws -> [String: Any] {
        #expect(run.status == 0, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
    }

    /// Collects the heatmap cells (their <title>) and counts polylines while checking the SVG parses.
    final class SVGReader: NSObject, XMLParserDelegate {
        var titles: [String] = []
        var polylines = 0
        var texts: [String] = []
        private var inTitle = false, inText = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if name == "polyline" { polylines += 1 }
            if name == "title" { inTitle = true; titles.append("") }
            if name == "text" { inText = true; texts.append("") }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inTitle { titles[titles.count - 1] += string }
            if inText { texts[texts.count - 1] += string }
        }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name == "title" { inTitle = false }
            if name == "text" { inText = false }
        }
    }

    /// Quantized GGUF pairs: the report names each module's noise floor and the σ dropped below it,
    /// in the table and in --json.
    @Test func extractReportsTheQuantizationNoiseFloor() throws {
        let folder = try temporaryFolder("extract-gguf")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pair = [repositoryFixtures + "/surgery-gguf/extract_base.gguf", repositoryFixtures + "/surgery-gguf/extract_tuned.gguf"]
        let report = try json(try ckpt(["extract"] + pair + ["-o", folder + "/a.gguf", "--rank", "8", "--json"]))
        let modules = try #require(report["modules"] as? [[String: Any]])
        #expect(modules.map { $0["rank"] as? Int } == [3, 2, 2])
        #expect(modules.map { $0["dropped_below_floor"] as? Int } == [5, 6, 6])
        #expect(modules.allSatisfy { ($0["noise_floor"] as? Double ?? 0) > 0 })
        let text = try ckpt(["extract"] + pair + ["-o", folder + "/b.gguf", "--rank", "8"])
        #expect(text.status == 0 && text.stdout.contains("noise floor") && text.stdout.contains("σ dropped"), "\(text.stdout)")
    }

    @Test func plotIsValidSVGShowingTheTable() throws {
        let folder = try temporaryFolder("plot")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let report = try json(try ckpt(["rank", rank + "/lora", "--json", "--plot", folder + "/r.svg"]))
        let data = try #require(FileManager.default.contents(atPath: folder + "/r.svg"))
        let parser = XMLParser(data: data)
        let reader = SVGReader()
        parser.delegate = reader
        #expect(parser.parse(), "\(parser.parserError.map(String.init(describing:)) ?? "")")
        let modules = try #require(report["modules"] as? [[String: Any]])
        let types = try #require(report["by_type"] as? [[String: Any]])
        // One thin line per module and one bold mean line per module type.
        #expect(reader.polylines == modules.count + types.count)
        for type in types { #expect(reader.texts.contains(type["key"] as? String ?? "?")) }
        // One heatmap cell per (layer, type), titled with the entropy rank the JSON gives.
        #expect(reader.titles.count == modules.count)
        for module in modules {
            let layer = module["layer"] as? Int ?? -1, type = module["type"] as? String ?? "", entropy = module["entropy_rank"] as? Double ?? -1
            let title = "layer \(layer) \(type): entropy rank \(String(format: "%.2f", entropy)) of r = 16"
            #expect(reader.titles.contains(title), "\(title)")
        }
        // An existing plot needs --force.
        #expect(try ckpt(["rank", rank + "/lora", "--plot", folder + "/r.svg"]).status == 2)
    }

    @Test func jsonCSVAndTableAgree() throws {
        let report = try json(try ckpt(["rank", rank + "/lora", "--json", "--base", rank + "/base"]))
        let modules = try #require(report["modules"] as? [[String: Any]])
        #expect(modules.count == 14)
        for module in modules {
            #expect(module["rank"] as? Int == 16 && module["numerical_rank"] as? Int == 16 && module["unused_rank"] as? Int == 0)
            #expect((module["relative_norm"] as? Double ?? 0) > 0 && (module["spectral_ratio"] as? Double ?? 0) > 0)
            #expect((module["singular_values"] as? [Double])?.count == 16)
        }
        let csv = try ckpt(["rank", rank + "/lora", "--csv"])
        #expect(csv.status == 0)
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.count == 15 && lines[0].hasPrefix("module,type,layer,rows,columns,rank,numerical_rank"))
        let table = try ckpt(["rank", rank + "/lora"])
        #expect(table.stdout.contains("By module type") && table.stdout.contains("By layer") && table.stdout.contains("▁"))
    }

    @Test func resizeKohyaVerboseAndPEFTRoundTrip() throws {
        let folder = try temporaryFolder("resize")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let verbose = try ckpt(["resize", rank + "/kohya.safetensors", "-o", folder + "/k.safetensors", "--sv-fro", "0.9", "--verbose"])
        #expect(verbose.status == 0, "\(verbose.stderr)")
        #expect(verbose.stdout.contains("sum(S) retained: ") && verbose.stdout.contains("Average Frobenius norm retention: "))
        let resized = try json(try ckpt(["resize", rank + "/lora", "-o", folder + "/p", "--rank", "4", "--json"]))
        #expect((resized["modules"] as? [[String: Any]])?.allSatisfy { $0["new_rank"] as? Int == 4 && $0["new_alpha"] as? Double == 8 } == true)
        let again = try json(try ckpt(["rank", folder + "/p", "--json"]))
        #expect((again["modules"] as? [[String: Any]])?.allSatisfy { $0["rank"] as? Int == 4 } == true)
        let budget = try json(try ckpt(["resize", rank + "/lora", "-o", folder + "/b", "--budget", "60KB", "--json"]))
        #expect((budget["factor_bytes"] as? Int ?? .max) <= 60_000)
        // Usage errors.
        #expect(try ckpt(["resize", rank + "/lora", "-o", folder + "/x", "--sv-fro", "0.9", "--sv-ratio", "2"]).status == 2)
        #expect(try ckpt(["resize", rank + "/lora", "-o", folder + "/x", "--budget", "1KB"]).status == 3)
    }

    @Test func meloraSplitJoinAndErrors() throws {
        let folder = try temporaryFolder("melora")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bad = try ckpt(["melora", rank + "/lora", "-o", folder + "/m", "--splits", "5"])
        #expect(bad.status == 3 && bad.stderr.contains("valid --splits for every module: 2, 3, 4, 6, 8, 12, 16, 24, 48"))
        let split = try json(try ckpt(["melora", rank + "/lora", "-o", folder + "/m", "--splits", "4", "--json"]))
        #expect((split["modules"] as? [[String: Any]])?.count == 14)
        let ranks = try json(try ckpt(["rank", folder + "/m", "--json"]))
        #expect((ranks["modules"] as? [[String: Any]])?.allSatisfy { ($0["blocks"] as? [Any])?.count == 4 } == true)
        #expect(try ckpt(["melora", folder + "/m", "-o", folder + "/j", "--join"]).status == 0)
        let mt = try ckpt(["melora", rank + "/lora", "-o", folder + "/mt.safetensors", "--splits", "2", "--naming", "mytransformers"])
        #expect(mt.status == 0, "\(mt.stderr)")
        #expect(try ckpt(["rank", folder + "/mt.safetensors", "--melora-scale", "1"]).status == 0)
        let combined = try json(try ckpt(["combine", rank + "/lora", folder + "/j", "-o", folder + "/c", "--json"]))
        #expect((combined["modules"] as? [[String: Any]])?.count == 14)
    }
}

/// The real PEFT loads what `ckpt extract` writes, and its merge reproduces the tuned weights within
/// the error ckpt reports. Needs a Python with torch, transformers and peft (CKPT_PYTHON); skipped
/// without one unless CKPT_REQUIRE_PYTHON=1 (CI), where that is a failure.
@Suite struct ExtractInteropTests {
    static let python = pythonImporting("peft, transformers, torch")

    /// Runs a fixture script and parses the JSON object of numbers it prints.
    static func runJSON(_ python: String, _ arguments: [String]) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(arguments)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Double])
    }

    static var enabled: Bool { python != nil || ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" }

    @Test(.enabled(if: enabled, "no Python with peft, transformers and torch: set CKPT_PYTHON"))
    func peftLoadsExtractedAdapterAndMergesWithinTheReportedError() throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with peft (set CKPT_PYTHON)")
        let rank = repositoryFixtures + "/rank"
        let folder = try temporaryFolder("extract")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for extra in [["--rank", "4"], ["--energy", "0.95", "--embed-lora"]] {
            let run = try ckpt(["extract", rank + "/base", rank + "/tuned", "-o", folder + "/a", "--json", "--force"] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let modules = try #require(report["modules"] as? [[String: Any]])
            let errors = try Self.runJSON(python, [rank + "/check_extract.py", rank + "/base", rank + "/tuned", folder + "/a"])
            #expect(errors.count == 16)  // 14 projections, the embedding, the changed norm
            for module in modules {
                let name = (module["module"] as? String ?? "") + ".weight"
                let reported = module["error"] as? Double ?? -1, peft = try #require(errors[name], "\(name)")
                #expect(abs(peft - reported) <= 1e-3 * reported + 1e-6, "\(name): PEFT \(peft), ckpt \(reported)")
            }
            for name in ["model.layers.0.input_layernorm.weight"] { #expect(errors[name] == 0) }
        }
    }

    /// PEFT reads a resized adapter's per-module ranks and alphas (rank_pattern / alpha_pattern) as
    /// ckpt meant them: its merged ‖ΔW‖_F equals the ‖ΔW‖_F `ckpt rank` computes from the factors.
    @Test(.enabled(if: enabled, "no Python with peft, transformers and torch: set CKPT_PYTHON"))
    func peftReadsResizedRankAndAlphaPatterns() throws {
        let python = try #require(Self.python, "CKPT_REQUIRE_PYTHON=1 but no python with peft (set CKPT_PYTHON)")
        let rank = repositoryFixtures + "/rank"
        let folder = try temporaryFolder("resize-peft")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try ckpt(["resize", rank + "/lora", "-o", folder + "/r", "--budget", "70KB"]).status == 0)
        let config = try String(contentsOfFile: folder + "/r/adapter_config.json", encoding: .utf8)
        #expect(config.contains("\"rank_pattern\": {\n    \"model."))
        let run = try ckpt(["rank", folder + "/r", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let modules = try #require(report["modules"] as? [[String: Any]])
        #expect(Set(modules.map { $0["rank"] as? Int ?? 0 }).count > 1)
        let norms = try Self.runJSON(python, [rank + "/check_adapter.py", rank + "/base", folder + "/r"])
        #expect(norms.count == 14)
        for module in modules {
            let name = (module["module"] as? String ?? "") + ".weight"
            let ours = module["frobenius_norm"] as? Double ?? -1, peft = try #require(norms[name], "\(name)")
            #expect(abs(peft - ours) <= 1e-5 * ours, "\(name): PEFT \(peft), ckpt \(ours)")
        }
    }
}
