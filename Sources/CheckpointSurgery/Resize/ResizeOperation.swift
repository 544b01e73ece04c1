import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// `ckpt resize`: every module's exact SVD from its factors, a new rank per module (a per-module
/// rule, or a global allocation), truncated factors with σ on the up side (as kohya does) and alpha
/// rescaled so that the effective scale α/r (α/√r) is unchanged.
public struct ResizeOperation {
    public enum Selection: Sendable, Equatable {
        /// A per-module rule; `maxRank` caps it (kohya's `--new_rank`; nil: the module's own rank).
        case rule(RankRule, maxRank: Int?)
        case global(RankAllocation.Target)
    }

    /// One module's outcome, with kohya's `--verbose` figures.
    public struct ModuleResult: Sendable {
        public var module: String
        public var oldRank: Int
        public var newRank: Int
        public var oldAlpha: Double
        public var newAlpha: Double
        /// Σ_{i≤k} σᵢ / Σσ (kohya "sum(S) retained").
        public var sumRetained: Double
        /// √(Σ_{i≤k} σᵢ² / Σσ²) (kohya "fro retained").
        public var frobeniusRetained: Double
        /// σ₁ / σ_k (kohya "max(S) ratio").
        public var maxRatio: Double
        /// Σ_{i≤k} σᵢ² / Σσ².
        public var energyRetained: Double { frobeniusRetained * frobeniusRetained }
        /// The rule asked for more components than the module has (kohya would pad with zeros).
        public var capped: Bool
    }

    public var output: LoRAOutput
    public var results: [ModuleResult]
    public var notes: [String]
    /// Σ kept σ² / Σ σ² over the whole adapter (scaled deltas).
    public var energyRetained: Double

    /// `dtype` is the factors' output dtype.
    public init(adapter: Adapter, selection: Selection, dtype: DType, useRSLoRA: Bool) throws {
        guard adapter.format != .melora else {
            throw LowRankEditError.cannotResize(path: adapter.path, module: adapter.deltas.first?.module ?? "", reason: "MELoRA adapters are not resized in their own layout (block ranks are shared across modules); join it with `ckpt melora --join`, resize the result, and re-split it with `ckpt melora`")
        }
        var svds: [ThinSVD] = []
        var scales: [Double] = []
        for delta in adapter.deltas {
            guard delta.magnitude == nil else {
                throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "DoRA magnitudes are normalised against the full ΔW, so a truncated ΔW would change them; merge the adapter instead of resizing it")
            }
            guard delta.blocks.count == 1, let block = delta.blocks.first else {
                throw SurgeryError.malformedAdapter(path: adapter.path, tensor: delta.module, message: "a LoRA module needs exactly one A/B pair")
            }
            // kohya decomposes up·down without the scale and carries the scale in alpha.
            svds.append(try LowRankSVD.ofProduct(b: block.b, a: block.a, scale: 1))
            scales.append(block.scale)
        }
        var ranks: [Int]
        var requested: [Int]
        switch selection {
        case let .rule(rule, maxRank):
            requested = zip(adapter.deltas, svds).map { delta, svd in
                rule.select(sigma: svd.sigma.map(Double.init), fullLength: min(delta.outFeatures, delta.inFeatures), maxRank: maxRank ?? delta.rank)
            }
            ranks = zip(requested, svds).map { min($0, $1.sigma.count) }
        case let .global(target):
            let scaled = zip(svds, scales).map { svd, scale in svd.sigma.map { Double($0) * abs(scale) } }
            let costs = adapter.deltas.map { ($0.outFeatures + $0.inFeatures) * dtype.bytesPerElementForOutput }
            if case let .budget(bytes) = target, costs.reduce(0, +) > bytes {
                throw LowRankEditError.budgetTooSmall(bytes: bytes, minimum: costs.reduce(0, +))
            }
            ranks = RankAllocation.allocate(sigma: scaled, bytesPerComponent: costs, target: target)
            requested = ranks
        }
        var keptEnergy = 0.0, totalEnergy = 0.0
        var modules: [LoRAOutput.Module] = []
        var results: [ModuleResult] = []
        for (index, delta) in adapter.deltas.enumerated() {
            let svd = svds[index], k = max(ranks[index], 1), scale = scales[index]
            let factors = svd.loraFactors(rank: k)
            let alpha = LoRAOutput.alpha(scale: scale, rank: factors.a.rows, rsLoRA: useRSLoRA)
            modules.append(LoRAOutput.Module(module: delta.module, kind: delta.kind, kernel: delta.kernel, b: factors.b, a: factors.a, alpha: alpha, bias: delta.bias))
            let sigma = svd.sigma.map(Double.init)
            let sum = sigma.reduce(0, +), squares = sigma.reduce(0) { $0 + $1 * $1 }
            let kept = sigma.prefix(factors.a.rows)
            totalEnergy += squares * scale * scale
            keptEnergy += kept.reduce(0) { $0 + $1 * $1 } * scale * scale
            results.append(ModuleResult(
                module: delta.module, oldRank: delta.rank, newRank: factors.a.rows,
                oldAlpha: LoRAOutput.alpha(scale: scale, rank: delta.rank, rsLoRA: useRSLoRA), newAlpha: alpha,
                sumRetained: sum > 0 ? kept.reduce(0, +) / sum : 1,
                frobeniusRetained: squares > 0 ? (kept.reduce(0) { $0 + $1 * $1 } / squares).squareRoot() : 1,
                maxRatio: (kept.last ?? 0) > 0 ? (sigma.first ?? 0) / (kept.last ?? 1) : .infinity,
                capped: requested[index] > factors.a.rows))
        }
        var passThrough: [LoRAOutput.PassThrough] = adapter.replacements.map { .init(reader: $0.reader, index: $0.index) }
        passThrough.sort { $0.name < $1.name }
        output = LoRAOutput(modules: modules, passThrough: passThrough, useRSLoRA: useRSLoRA, dtype: dtype)
        self.results = results
        energyRetained = totalEnergy > 0 ? keptEnergy / totalEnergy : 1
        var notes: [String] = []
        let capped = results.filter(\.capped).count
        if capped > 0 { notes.append("\(capped) modules asked for more components than their rank holds; kept their full rank (kohya would pad with zero components)") }
        self.notes = notes
    }
}
