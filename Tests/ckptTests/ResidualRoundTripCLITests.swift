import Testing
import Foundation

/// merge --residual → unmerge --residual gives the base back byte for byte in every format a merge
/// writes: safetensors (CheckpointSurgeryTests), sharded safetensors, PyTorch zip (.pt / .bin, sharded), GGUF
/// in f32 / f16 / bf16 (HF-named PEFT and kohya adapters mapped onto llama.cpp names), split GGUF, and
/// quantized GGUF bases (Q8_0 merged back into Q8_0; a K-quant written as f16 with --requant-fallback),
/// whose original blocks the residual keeps.
@Suite struct ResidualRoundTripCLITests {
    static let surgery = repositoryFixtures + "/surgery"

    /// The bytes of a checkpoint's files (one file, or every file of a folder in name order).
    static func files(_ path: String) throws -> [Data] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return [try Data(contentsOf: URL(fileURLWithPath: path))]
        }
        return try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { try Data(contentsOf: URL(fileURLWithPath: path + "/" + $0)) }
    }

    /// Merges `adapters` into `base` (-o `merged`), unmerges `mergedInput` (-o `restored`), and checks
    /// that the files at `restoredFiles` are those at `baseFiles`, byte for byte.
    static func roundTrip(base: String, baseFiles: String? = nil, adapters: [String], merged: String, mergedInput: (() throws -> String)? = nil,
                          restored: String, restoredFiles: String? = nil, work: String, options: [String] = [], label: String) throws {
        let residual = work + "/\(UUID().uuidString).residual.safetensors"
        let merge = try ckpt(["merge", base] + adapters + ["-o", merged, "--residual", residual, "--quiet"] + options)
        #expect(merge.status == 0, "\(label): \(merge.stderr)")
        let unmerge = try ckpt(["unmerge", try mergedInput?() ?? merged] + adapters + ["-o", restored, "--residual", residual, "--quiet"] + options)
        #expect(unmerge.status == 0, "\(label): \(unmerge.stderr)")
        let original = try files(baseFiles ?? base)
        #expect(try files(mergedInput?() ?? merged) != original, "\(label): the merge changed nothing")
        let back = try files(restoredFiles ?? restored)
        #expect(back.count == original.count && back == original, "\(label): unmerge --residual is not the base (\(back.count) files, \(original.count) expected)")
    }

    static func convert(_ arguments: [String]) throws {
        let run = try ckpt(["convert"] + arguments + ["--force", "--quiet"])
        #expect(run.status == 0, "\(arguments): \(run.stderr)")
    }

    @Test(arguments: ["f32", "f16", "bf16"])
    func ggufBase(dtype: String) throws {
        let work = try temporaryFolder("residual-gguf-\(dtype)")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Self.convert([Self.surgery + "/llama-f32", work + "/f32.gguf", "--arch", "llama"])
        let base = work + "/\(dtype).gguf"
        if dtype != "f32" { try Self.convert([work + "/f32.gguf", base, "--dtype", dtype]) }
        for adapters in [["lora"], ["dora"], ["embedding"], ["kohya-llm.safetensors"], ["kohya.safetensors", "rslora"]] {
            try Self.roundTrip(base: base, adapters: adapters.map { Self.surgery + "/" + $0 }, merged: work + "/merged.gguf",
                               restored: work + "/restored.gguf", work: work, options: ["--force"], label: "\(dtype) GGUF + \(adapters)")
        }
        // A split GGUF base, merged into and restored from split GGUF outputs of the same part size.
        for folder in ["split", "msplit", "rsplit"] { try FileManager.default.createDirectory(atPath: work + "/" + folder, withIntermediateDirectories: true) }
        try Self.convert([base, work + "/split/base.gguf", "--split-max-size", "20KB"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/split").count > 2)
        let first = { (folder: String) throws -> String in
            folder + "/" + (try FileManager.default.contentsOfDirectory(atPath: folder).sorted().first ?? "")
        }
        try Self.roundTrip(base: try first(work + "/split"), baseFiles: work + "/split", adapters: [Self.surgery + "/lora"], merged: work + "/msplit/m.gguf",
                           mergedInput: { try first(work + "/msplit") }, restored: work + "/rsplit/r.gguf", restoredFiles: work + "/rsplit", work: work,
                           options: ["--shard-size", "20KB"], label: "\(dtype) split GGUF")
    }

    @Test func quantizedGGUFBases() throws {
        let work = try temporaryFolder("residual-quantized")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Self.convert([Self.surgery + "/llama-f32", work + "/f32.gguf", "--arch", "llama"])
        try Self.convert([work + "/f32.gguf", work + "/q8_0.gguf", "--dtype", "q8_0"])
        try Self.roundTrip(base: work + "/q8_0.gguf", adapters: [Self.surgery + "/lora"], merged: work + "/merged.gguf",
                           restored: work + "/restored.gguf", work: work, label: "Q8_0 GGUF + lora")
        // gguf-py wrote the K-quant fixture without general.quantization_version, which ckpt (like
        // llama.cpp) writes into every GGUF holding quantized tensors: start from ckpt's copy of it.
        let quantized = repositoryFixtures + "/surgery-gguf"
        try Self.convert([quantized + "/quant_base.gguf", work + "/kquant.gguf"])
        try Self.roundTrip(base: work + "/kquant.gguf", adapters: [quantized + "/quant_lora.gguf"], merged: work + "/k.gguf",
                           restored: work + "/k-restored.gguf", work: work, options: ["--requant-fallback", "f16"], label: "Q4_K / Q2_K GGUF")
    }

    @Test func pytorchOutputs() throws {
        let work = try temporaryFolder("residual-torch")
        defer { try? FileManager.default.removeItem(atPath: work) }
        // torch.save names the archive's top folder after the file: the restored file gets the base's name.
        for folder in ["base", "merged", "restored"] { try FileManager.default.createDirectory(atPath: work + "/" + folder, withIntermediateDirectories: true) }
        for name in ["model.pt", "pytorch_model.bin"] {
            try Self.convert([Self.surgery + "/llama-bf16", work + "/base/" + name])
            try Self.roundTrip(base: work + "/base/" + name, adapters: [Self.surgery + "/lora", Self.surgery + "/dora"], merged: work + "/merged/" + name,
                               restored: work + "/restored/" + name, work: work, label: name)
        }
        // Sharded torch (pytorch_model-0000k-of-0000n.bin + index), folder to folder.
        for folder in ["sharded", "sharded-merged", "sharded-restored"] { try FileManager.default.createDirectory(atPath: work + "/" + folder, withIntermediateDirectories: true) }
        try Self.convert([Self.surgery + "/llama-bf16", work + "/sharded/pytorch_model.bin", "--shard-size", "20KB"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/sharded").count == 4)
        try Self.roundTrip(base: work + "/sharded", adapters: [Self.surgery + "/lora"], merged: work + "/sharded-merged/pytorch_model.bin",
                           mergedInput: { work + "/sharded-merged" }, restored: work + "/sharded-restored/pytorch_model.bin",
                           restoredFiles: work + "/sharded-restored", work: work, options: ["--shard-size", "20KB"], label: "sharded torch")
    }

    @Test func shardedSafetensors() throws {
        let work = try temporaryFolder("residual-sharded")
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Self.convert([Self.surgery + "/llama-bf16", work + "/base/", "--shard-size", "40KB"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/base").count > 2)
        try Self.roundTrip(base: work + "/base", adapters: [Self.surgery + "/lora", Self.surgery + "/embedding"], merged: work + "/merged/",
                           restored: work + "/restored/", work: work, options: ["--shard-size", "40KB"], label: "sharded safetensors")
    }
}
