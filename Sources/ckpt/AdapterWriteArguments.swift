import ArgumentParser
import CheckpointCore
import CheckpointFormats
import CheckpointSurgery

/// Options of the commands that write an adapter (resize, extract, melora, combine).
struct AdapterWriteArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Layout of the output: peft (folder), kohya (.safetensors file), gguf (llama.cpp LoRA adapter, .gguf file) or melora.", valueName: "LAYOUT"))
    var to: String?

    @Option(name: .customLong("base-config"), help: ArgumentHelp("The base model's config.json (or its folder, or the GGUF base): head counts for llama.cpp's Q/K row permutation when writing between Hugging Face and GGUF names.", valueName: "PATH"))
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

    /// Writing options: head counts from --base-config, the GGUF architecture of a GGUF source.
    func writerOptions(source: Adapter?) throws -> AdapterOutputWriter.Options {
        var options = AdapterOutputWriter.Options()
        if let baseConfig {
            if baseConfig.lowercased().hasSuffix(".gguf") {
                let reader = try Checkpoint.open(baseConfig)
                guard let metadata = reader.metadata.gguf else { throw UsageError("--base-config '\(baseConfig)' is not a GGUF file") }
                options.llamaConfig = try LlamaConfig(gguf: metadata, file: baseConfig)
            } else {
                options.llamaConfig = try LlamaConfig.read(baseConfig)
            }
        }
        if let source, source.format == .gguf, let architecture = try Checkpoint.open(source.path).metadata.gguf?[GGUFConstants.Key.architecture]?.text {
            options.ggufArchitecture = architecture
        }
        return options
    }
}
