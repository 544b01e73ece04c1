import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// Options of the commands that write an adapter (resize, extract, melora, combine).
struct AdapterWriteArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Layout of the output: peft (folder), kohya (.safetensors file), gguf (llama.cpp LoRA adapter, .gguf file) or melora.", valueName: "LAYOUT"))
    var to: String?

    @Option(name: .customLong("base-config"), help: ArgumentHelp("The base model's config.json (or its folder, or the GGUF base): its llama.cpp architecture (llama, qwen2, qwen3, gemma, gemma2), which names the modules of a GGUF adapter, and for llama the head counts of the Q/K row permutation.", valueName: "PATH"))
    var baseConfig: String?

    @Option(name: .long, help: ArgumentHelp("Factor dtype of the output: f32, f16 or bf16 (default: the input adapter's; f32 for extract).", valueName: "DTYPE"))
    var dtype: String?

    @Flag(name: .long, help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(name: .long, help: "Replace OUT if it exists.")
    var force = false

    /// The output dtype: --dtype, else the adapter's factor dtype, else f32.
    func outputDType(like adapter: Adapter?) throws -> DType {
        guard let dtype else { return try adapter.map(AdapterSource.factorDType) ?? .f32 }
        guard let parsed = DType(userName: dtype), [.f32, .f16, .bf16].contains(parsed) else {
            throw UsageError("--dtype '\(dtype)' is not f32, f16 or bf16")
        }
        return parsed
    }

    /// `--to`, or `fallback` without it.
    func layout(default fallback: AdapterFormat) throws -> AdapterFormat {
        guard let to else { return fallback }
        guard let layout = AdapterFormat(rawValue: to.lowercased()) else {
            throw UsageError("--to '\(to)' is not one of \(AdapterFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return layout
    }

    /// Writing options: the llama.cpp architecture from --base-config (else the base checkpoint `base`,
    /// for extract) and from what the adapters declare, all of which must agree; for llama the head
    /// counts of the Q/K permutation.
    func writerOptions(sources: [Adapter], base: String? = nil) throws -> AdapterOutputWriter.Options {
        var options = AdapterOutputWriter.Options()
        var declared: [GGUFArchitectureSource] = []
        var gguf: GGUFMetadata?
        let configPath = baseConfig ?? base
        if let path = configPath {
            let lowered = path.lowercased()
            if lowered.hasSuffix(".gguf") || lowered.hasSuffix(".gguf.zst") {
                let reader = try Checkpoint.open(path)
                guard let metadata = reader.metadata.gguf else { throw UsageError("--base-config '\(path)' is not a GGUF file") }
                gguf = metadata
                declared += [GGUFArchitectureSource.declared(by: metadata, file: path)].compactMap { $0 }
            } else if baseConfig != nil {
                declared += [try GGUFArchitectureSource.declared(byConfigAt: path)].compactMap { $0 }
            } else {
                // extract's base: its config.json (inside the folder, or beside the file), when readable.
                let config = FolderListing.isFolder(path) ? path : Paths.join(Paths.folder(of: path), "config.json")
                declared += [(try? GGUFArchitectureSource.declared(byConfigAt: config)) ?? nil].compactMap { $0 }
            }
        }
        for source in sources { declared += [try AdapterSource.architecture(source)].compactMap { $0 } }
        var architecture: GGUFArchitectureSource?
        for source in declared { architecture = try GGUFArchitectureSource.agreeing(architecture, source) }
        options.architecture = architecture
        // Only llama's converter permutes Q/K rows; other architectures need no head counts.
        if let path = configPath, architecture?.architecture == "llama" {
            if let gguf {
                options.llamaConfig = baseConfig != nil ? try LlamaConfig(gguf: gguf, file: path) : try? LlamaConfig(gguf: gguf, file: path)
            } else if baseConfig != nil {
                options.llamaConfig = try LlamaConfig.read(path)
            } else {
                options.llamaConfig = try? LlamaConfig.read(FolderListing.isFolder(path) ? path : Paths.join(Paths.folder(of: path), "config.json"))
            }
        }
        return options
    }
}
