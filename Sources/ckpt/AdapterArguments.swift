import ArgumentParser
import CheckpointCore
import CheckpointSurgery

/// Options shared by `ckpt merge` and `ckpt unmerge`: how adapters are read and weighted.
struct AdapterArguments: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Scale each adapter's delta by W (repeatable: one per adapter in order, or one for all). Default 1.", valueName: "W"))
    var weight: [Double] = []

    @Option(name: .customLong("adapter-format"), help: ArgumentHelp("Read every ADAPTER as this kind instead of detecting it. Values: peft, kohya, melora, gguf.", valueName: "KIND"))
    var adapterFormat: String?

    @Option(name: .customLong("melora-scale"), help: ArgumentHelp("Absolute scale of MyTransformers MELoRA files (weight_a.i / weight_b.i), which do not store it.", valueName: "S"))
    var meloraScale: Double?

    @Flag(name: .customLong("ignore-unmatched"), help: "Skip adapter modules that match no base tensor or whose shape does not fit (listed in the report) instead of failing.")
    var ignoreUnmatched = false

    @Option(name: .customLong("requant-fallback"), help: ArgumentHelp("Quantized GGUF base: write merged tensors of a ggml type ckpt cannot quantize back (Q2_K, Q3_K, IQ4_NL, ...) as this float type instead of refusing. Values: f32, f16, bf16.", valueName: "TYPE"))
    var requantFallback: String?

    @Option(name: .long, help: ArgumentHelp("Worker threads per tensor (default: the number of cores, at most 8).", valueName: "N"))
    var threads: Int?

    /// `--requant-fallback` as a float dtype.
    func requantFallbackType() throws -> DType? {
        guard let requantFallback else { return nil }
        guard let type = DType(userName: requantFallback), [DType.f32, .f16, .bf16].contains(type) else {
            throw UsageError("--requant-fallback '\(requantFallback)' is not one of f32, f16, bf16")
        }
        return type
    }

    func loadAdapters(_ paths: [String]) throws -> (adapters: [Adapter], weights: [Double]) {
        var format: AdapterFormat?
        if let adapterFormat {
            guard let parsed = AdapterFormat(rawValue: adapterFormat.lowercased()) else {
                throw UsageError("--adapter-format '\(adapterFormat)' is not one of \(AdapterFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            format = parsed
        }
        guard weight.count <= 1 || weight.count == paths.count else {
            throw UsageError("\(weight.count) --weight values for \(paths.count) adapters; give one per adapter, or one for all")
        }
        guard weight.allSatisfy(\.isFinite) else { throw UsageError("--weight must be a finite number") }
        if let threads, threads < 1 { throw UsageError("--threads must be at least 1") }
        let weights = weight.count == paths.count ? weight : Array(repeating: weight.first ?? 1, count: paths.count)
        let adapters = try paths.map { try Adapter.load(path: $0, format: format, meloraScale: meloraScale) }
        return (adapters, weights)
    }
}
