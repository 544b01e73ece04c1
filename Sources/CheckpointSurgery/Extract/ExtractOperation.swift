import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// `ckpt extract`: a LoRA from the difference of two checkpoints. Every 2-D (and 4-D convolution)
/// float tensor that differs becomes a LoRA module (B = U·diag(σ), A = Vᵀ, α = r so the scale is 1,
/// as mergekit, kohya and PEFT do); embeddings become `lora_embedding_A/B` with `embedLoRA`, and they,
/// norms, biases and other tensors that differ otherwise go to `modules_to_save` whole.
public struct ExtractOperation {
    public struct Options: Sendable {
        public enum Choice: Sendable, Equatable { case rank(Int), energy(Double), epsilon(Double) }
        public var choice: Choice
        public var maxRank: Int
        public var embedLoRA: Bool
        /// nil: the rank (at least 10).
        public var oversampling: Int?
        public var powerIterations: Int
        public var seed: UInt64
        /// Accept a randomized result when its error is within this factor of the optimal bound.
        public var tolerance: Double
        public var dtype: DType

        public init(choice: Choice, maxRank: Int = 128, embedLoRA: Bool = false, oversampling: Int? = nil, powerIterations: Int = 2,
                    seed: UInt64 = 0, tolerance: Double = 1.01, dtype: DType = .f32) {
            self.choice = choice
            self.maxRank = maxRank
            self.embedLoRA = embedLoRA
            self.oversampling = oversampling
            self.powerIterations = powerIterations
            self.seed = seed
            self.tolerance = tolerance
            self.dtype = dtype
        }
    }

    public struct ModuleResult: Sendable {
        public var module: String
        public var rows: Int
        public var columns: Int
        public var rank: Int
        public var method: String
        /// ‖ΔW − B·A‖_F and ‖ΔW‖_F.
        public var error: Double
        public var norm: Double
        public var errorRatioEstimate: Double
        /// The quantization noise floor of ΔW (0 when neither tensor is block-quantized) and how many
        /// components the rank choice would have kept below it.
        public var noiseFloor: Double = 0
        public var droppedBelowFloor: Int = 0
        public var relativeError: Double { norm > 0 ? error / norm : 0 }
    }

    public var output: LoRAOutput
    public var modulesToSave: [String]
    public var results: [ModuleResult]
    /// Tensors equal in both checkpoints, or present in only one.
    public var unchanged: Int
    public var notes: [String]

    public init(base: any CheckpointReader, tuned: any CheckpointReader, options: Options) throws {
        var baseIndex: [String: Int] = [:]
        for (index, info) in base.tensors.enumerated() { baseIndex[info.name] = index }
        var modules: [LoRAOutput.Module] = []
        var results: [ModuleResult] = []
        var wholeModules: [String] = []
        var unchanged = 0
        var notes: [String] = []
        let choice: DeltaDecomposition.Choice
        switch options.choice {
        case let .rank(k): choice = .rank(k)
        case let .energy(e): choice = .energy(e)
        case let .epsilon(e): choice = .epsilon(e)
        }
        for (tunedIndex, info) in tuned.tensors.enumerated() {
            guard let index = baseIndex[info.name] else {
                notes.append("\(info.name) exists only in the tuned checkpoint; not extracted")
                continue
            }
            let baseInfo = base.tensors[index]
            guard TensorMatrix.isReadable(info.dtype), TensorMatrix.isReadable(baseInfo.dtype) else {
                // Integer buffers never change in fine-tuning; block types without a dequantizer
                // (and packed floats) are named instead of guessed at.
                if info.dtype.blockLayout != nil || baseInfo.dtype.blockLayout != nil || info.dtype.isPacked {
                    notes.append("\(info.name) is \(info.dtype.userName) in the tuned and \(baseInfo.dtype.userName) in the base checkpoint; ckpt cannot dequantize that type, so it is not extracted")
                } else {
                    unchanged += 1
                }
                continue
            }
            guard baseInfo.shape == info.shape else {
                throw LowRankEditError.layoutNotWritable(path: tuned.path, reason: "tensor \(info.name) is \(info.shape) there but \(baseInfo.shape) in the base; extraction needs the same architecture")
            }
            if baseInfo.dtype == info.dtype, try base.data(at: index).bytes.elementsEqual(try tuned.data(at: tunedIndex).bytes) {
                unchanged += 1
                continue
            }
            let parts = info.name.split(separator: ".", omittingEmptySubsequences: false)
            let module = parts.dropLast().joined(separator: ".")
            let parameter = parts.last.map(String.init) ?? info.name
            let isEmbedding = BaseNames.embeddingSuffixes.contains { info.name.hasSuffix($0) }
            let lowRankShape = info.shape.count == 2 || info.shape.count == 4
            guard parameter == "weight", !module.isEmpty, lowRankShape, !isEmbedding || options.embedLoRA else {
                if !module.isEmpty, !wholeModules.contains(module) { wholeModules.append(module) }
                continue
            }
            var delta = try TensorMatrix.read(tuned, index: tunedIndex)
            let before = try TensorMatrix.read(base, index: index)
            let noise = Self.noiseEnergy(before, baseInfo.dtype, delta, info.dtype)
            if let unmodelled = noise.unmodelled { notes.append("\(info.name): no noise model for \(unmodelled.userName) (non-uniform codebook); no quantization floor applied") }
            for i in delta.elements.indices { delta.elements[i] -= before.elements[i] }
            guard delta.squaredSum.isFinite else { throw SurgeryError.nonFinite(tensor: info.name, module: module, element: delta.elements.firstIndex { !$0.isFinite } ?? 0) }
            // The Linear orientation (out × in); the embedding table stores ΔWᵀ.
            if isEmbedding { delta = delta.transposed() }
            let floor = QuantizationNoise.floor(energy: noise.energy, rows: delta.rows, columns: delta.columns)
            let decomposition = try DeltaDecomposition(delta, choice: choice, maxRank: options.maxRank, oversampling: options.oversampling,
                                                       powerIterations: options.powerIterations, seed: options.seed, tolerance: options.tolerance, floor: floor)
            guard decomposition.rank > 0 else {
                notes.append("\(info.name): every singular value of ΔW is below the quantization noise floor \(floor); not extracted")
                continue
            }
            let factors = decomposition.svd.loraFactors(rank: decomposition.rank)
            let kind: ModuleDelta.Kind = isEmbedding ? .embedding : (info.shape.count == 4 ? .convolution : .linear)
            modules.append(LoRAOutput.Module(module: module, kind: kind, kernel: kind == .convolution ? Array(info.shape.dropFirst(2)) : [],
                                             b: factors.b, a: factors.a, alpha: Double(decomposition.rank)))
            results.append(ModuleResult(module: module, rows: delta.rows, columns: delta.columns, rank: decomposition.rank, method: decomposition.method.rawValue,
                                        error: decomposition.error, norm: decomposition.norm, errorRatioEstimate: decomposition.errorRatioEstimate,
                                        noiseFloor: floor, droppedBelowFloor: decomposition.droppedBelowFloor))
        }
        // A module replaced whole needs no LoRA as well (a Linear whose bias changed too).
        let replaced = Set(wholeModules)
        if !replaced.isDisjoint(with: modules.map(\.module)) {
            modules.removeAll { replaced.contains($0.module) }
            results.removeAll { replaced.contains($0.module) }
        }
        // modules_to_save replaces the whole module, so every parameter of it is written from `tuned`.
        var whole: [(name: String, shape: [Int], values: [Float])] = []
        for (tunedIndex, info) in tuned.tensors.enumerated() {
            let module = info.name.split(separator: ".", omittingEmptySubsequences: false).dropLast().joined(separator: ".")
            guard wholeModules.contains(module) else { continue }
            guard info.dtype.isFloatingPoint, !info.dtype.isPacked else {
                throw LowRankEditError.layoutNotWritable(path: tuned.path, reason: "modules_to_save module \(module) holds \(info.name) of dtype \(info.dtype.userName), which adapters cannot store")
            }
            let values = try TensorMatrix.read(tuned, index: tunedIndex).elements
            whole.append((PEFTAdapterWriter.prefix + info.name, info.shape, values))
        }
        guard !modules.isEmpty || !whole.isEmpty else { throw LowRankEditError.nothingToExtract(base: base.path, tuned: tuned.path) }
        var output = LoRAOutput(modules: modules, dtype: options.dtype)
        output.wholeTensors = whole
        output.naming = ModuleNaming(baseModules: modules.map(\.module) + wholeModules)
        self.output = output
        modulesToSave = wholeModules
        self.results = results
        self.unchanged = unchanged
        self.notes = notes
    }
    /// Expected ‖noise‖²_F of ΔW from the block-quantized side(s): the two roundings are independent,
    /// so their energies add. `unmodelled`: a block type read without a noise model.
    static func noiseEnergy(_ base: Matrix, _ baseType: DType, _ tuned: Matrix, _ tunedType: DType) -> (energy: Double, unmodelled: DType?) {
        var energy = 0.0
        var unmodelled: DType?
        for (values, type) in [(base, baseType), (tuned, tunedType)] where type.isBlockQuantized {
            if let grid = QuantizationNoise.grid(type) {
                energy += QuantizationNoise.energy(of: values.elements, grid: grid)
            } else {
                unmodelled = type
            }
        }
        return (energy, unmodelled)
    }
}
