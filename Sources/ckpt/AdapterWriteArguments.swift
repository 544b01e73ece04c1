import ArgumentParser
import CheckpointCore
import CheckpointSurgery

/// Options of the commands that write an adapter (resize, extract, melora, combine).
struct AdapterWriteArguments: ParsableArguments {
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
}
