import CheckpointCore
import CheckpointFormats

/// What a merge (or unmerge) does to each output tensor, decided before any tensor byte is read.
public struct MergePlan: Sendable {
    /// One adapter's low-rank update of one output tensor.
    public struct Step: Sendable {
        public var adapter: Int
        public var delta: ModuleDelta
        /// The user's `--weight` for this adapter (multiplies every block scale).
        public var weight: Double
    }

    /// `lora_B.bias` of one adapter added to a bias tensor: weight · scale · values.
    public struct BiasStep: Sendable {
        public var adapter: Int
        public var module: String
        public var values: [Double]
        public var factor: Double
    }

    public struct Target: Sendable {
        /// Index in `outputs`.
        public var output: Int
        /// Base tensor read as W (the embedding for an untied lm_head).
        public var source: Int
        public var module: String
        public var steps: [Step] = []
        public var biasSteps: [BiasStep] = []
        /// modules_to_save: the adapter tensor that replaces the base tensor.
        public var replacement: (adapter: Int, tensor: Replacement)?

        public var hasDoRA: Bool { steps.contains { $0.delta.magnitude != nil } }
    }

    public var outputs: [TensorInfo]
    /// Output index → base index for outputs copied or computed from the base.
    public var sourceOfOutput: [Int]
    public var targets: [Int: Target]
    /// Output tensors that do not exist in the base (an untied lm_head).
    public var added: [String]
    /// Adapter modules skipped with --ignore-unmatched, with why.
    public var skipped: [String]
    public var notes: [String]

    public struct Options: Sendable {
        public var ignoreUnmatched = false
        public var untie = false
        /// The float type merged tensors of a quantized type ggml cannot quantize back are written in
        /// (nil: refuse them).
        public var requantFallback: DType?
        public init(ignoreUnmatched: Bool = false, untie: Bool = false, requantFallback: DType? = nil) {
            self.ignoreUnmatched = ignoreUnmatched
            self.untie = untie
            self.requantFallback = requantFallback
        }
    }

    /// Maps every adapter module to the base tensor it changes and checks shapes and dtypes.
    public init(base: [TensorInfo], basePath: String, adapters: [Adapter], weights: [Double], options: Options) throws {
        let names = BaseNames(tensors: base, tieWordEmbeddings: BaseNames.tieWordEmbeddings(basePath: basePath))
        outputs = base
        sourceOfOutput = Array(base.indices)
        targets = [:]
        added = []
        skipped = []
        notes = []
        var addedIndex: [String: Int] = [:]

        func target(output: Int, source: Int, module: String) -> Target {
            targets[output] ?? Target(output: output, source: source, module: module)
        }
        func addUntied(_ name: String, source: Int) throws -> Int {
            if let index = addedIndex[name] { return index }
            outputs.append(try base[source].renamed(name).with(dtype: base[source].dtype))
            sourceOfOutput.append(source)
            added.append(name)
            addedIndex[name] = outputs.count - 1
            notes.append("--untie: wrote \(name) as a separate copy of \(base[source].name); " + (names.isLlamaCppNamed
                ? "llama.cpp uses output.weight when the file has one (nothing else to change)"
                : "set tie_word_embeddings to false in config.json"))
            return outputs.count - 1
        }

        for (adapterIndex, adapter) in adapters.enumerated() {
            let weight = weights[adapterIndex]
            for delta in adapter.deltas {
                var resolved = names.resolve(module: delta.module, parameter: "weight", flattenedNames: adapter.flattenedNames)
                var output: Int
                var source: Int
                if let index = resolved.index {
                    output = index
                    source = index
                    if let tied = names.tiedEmbedding, base[index].name == tied {
                        guard options.untie else { throw SurgeryError.tiedEmbeddings(adapter: adapter.path, module: delta.module, shared: tied, llamaCpp: names.isLlamaCppNamed) }
                        let output = names.isLlamaCppNamed ? "output" : "lm_head"
                        let copy = try addUntied(output + ".weight", source: index)
                        targets[copy] = target(output: copy, source: index, module: output)
                    }
                } else if let tied = names.tiedEmbedding, BaseNames.isOutputModule(delta.module), let embedding = names.byName[tied] {
                    guard options.untie else { throw SurgeryError.tiedEmbeddings(adapter: adapter.path, module: delta.module, shared: tied, llamaCpp: names.isLlamaCppNamed) }
                    output = try addUntied(delta.module + ".weight", source: embedding)
                    source = embedding
                    resolved.index = embedding
                } else {
                    if options.ignoreUnmatched {
                        skipped.append("\(adapter.path): \(delta.module) (no base tensor among \(resolved.tried.joined(separator: ", ")))")
                        continue
                    }
                    throw SurgeryError.unmatched(adapter: adapter.path, module: delta.module, tried: resolved.tried)
                }
                let info = base[source]
                var fitted = delta
                if info.shape != delta.expectedBaseShape, delta.kind == .linear, info.shape == [delta.inFeatures, delta.outFeatures] {
                    // PEFT applies fan_in_fan_out only to Conv1D layers; the stored shape tells which one this is.
                    fitted.transposedInBase.toggle()
                    notes.append("\(delta.module): base stores it \(fitted.transposedInBase ? "transposed (in, out)" : "as (out, in)"), fan_in_fan_out \(fitted.transposedInBase ? "applied" : "ignored") as PEFT does")
                }
                guard info.shape == fitted.expectedBaseShape else {
                    if options.ignoreUnmatched {
                        skipped.append("\(adapter.path): \(delta.module) (shape \(fitted.expectedBaseShape) ≠ \(info.name) \(info.shape))")
                        continue
                    }
                    throw SurgeryError.shapeMismatch(adapter: adapter.path, module: delta.module, adapterShape: "rank \(delta.rank), ΔW for \(fitted.expectedBaseShape)", base: info.name, baseShape: info.shape)
                }
                guard (info.dtype.isFloatingPoint && !info.dtype.isPacked && info.dtype != .f8E8M0) || QuantizedMerge.canMerge(info.dtype) else { throw SurgeryError.notFloat(tensor: info.name, dtype: info.dtype) }
                var entry = target(output: output, source: source, module: delta.module)
                entry.steps.append(Step(adapter: adapterIndex, delta: fitted, weight: weight))
                targets[output] = entry

                if let bias = delta.bias {
                    let found = names.resolve(module: delta.module, parameter: "bias", flattenedNames: adapter.flattenedNames)
                    guard let biasIndex = found.index, base[biasIndex].elementCount == bias.count else {
                        throw SurgeryError.unmatched(adapter: adapter.path, module: delta.module + " (lora_B.bias: the base layer needs a bias of \(bias.count) values)", tried: found.tried)
                    }
                    var biasEntry = target(output: biasIndex, source: biasIndex, module: delta.module + ".bias")
                    biasEntry.biasSteps.append(BiasStep(adapter: adapterIndex, module: delta.module, values: bias, factor: weight * delta.biasScale))
                    targets[biasIndex] = biasEntry
                }
            }
            for replacement in adapter.replacements {
                let found = names.resolve(module: replacement.module, parameter: replacement.parameter, flattenedNames: false)
                var resolvedIndex = found.index
                var source = found.index
                if resolvedIndex == nil, replacement.parameter == "weight", let tied = names.tiedEmbedding, BaseNames.isOutputModule(replacement.module), let embedding = names.byName[tied] {
                    guard options.untie else { throw SurgeryError.tiedEmbeddings(adapter: adapter.path, module: replacement.module, shared: tied, llamaCpp: names.isLlamaCppNamed) }
                    resolvedIndex = try addUntied(replacement.module + ".weight", source: embedding)
                    source = embedding
                }
                guard let index = resolvedIndex, let source else {
                    if options.ignoreUnmatched { skipped.append("\(adapter.path): modules_to_save \(replacement.module)"); continue }
                    throw SurgeryError.unmatched(adapter: adapter.path, module: replacement.module + " (modules_to_save)", tried: found.tried)
                }
                guard outputs[index].shape == replacement.info.shape else {
                    throw SurgeryError.shapeMismatch(adapter: adapter.path, module: replacement.module + " (modules_to_save)", adapterShape: "\(replacement.info.shape)", base: outputs[index].name, baseShape: outputs[index].shape)
                }
                var entry = target(output: index, source: source, module: replacement.module)
                if let existing = entry.replacement {
                    throw SurgeryError.conflictingReplacement(tensor: outputs[index].name, first: adapters[existing.adapter].path, second: adapter.path)
                }
                entry.replacement = (adapterIndex, replacement)
                targets[index] = entry
            }
        }
        // A replaced tensor is the starting point of that adapter's own LoRA (PEFT loads the saved layer
        // weight, then adds its delta); another adapter's change would be lost, so refuse that.
        for (output, entry) in targets {
            guard let replacement = entry.replacement else { continue }
            if let other = (entry.steps.map(\.adapter) + entry.biasSteps.map(\.adapter)).first(where: { $0 != replacement.adapter }) {
                throw SurgeryError.conflictingReplacement(tensor: outputs[output].name, first: adapters[replacement.adapter].path, second: adapters[other].path)
            }
        }
        try QuantizedMerge.chooseOutputTypes(&self, fallback: options.requantFallback)
    }

    /// Bytes of the largest changed tensor, for memory estimates.
    public var largestTarget: Int { targets.keys.map { outputs[$0].byteCount }.max() ?? 0 }
    public var outputBytes: Int { outputs.reduce(0) { $0 + $1.byteCount } }
}
