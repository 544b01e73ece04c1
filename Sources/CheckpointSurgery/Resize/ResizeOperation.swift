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

    /// Bytes of every written factor (plain modules and MELoRA blocks).
    public var factorBytes: Int {
        output.factorBytes + meloraModules.reduce(0) { sum, module in
            sum + module.blocks.reduce(0) { $0 + ($1.a.elements.count + $1.b.elements.count) * output.dtype.bytesPerElementForOutput }
        }
    }

    /// MELoRA input: the resized blocks per module (scale 1, baked into B), written in the input's
    /// MELoRA layout; empty otherwise.
    public var meloraModules: [(module: String, blocks: [ModuleDelta.Block])] = []

    /// `dtype` is the factors' output dtype. A MELoRA adapter is resized block by block (each block's
    /// own rule, or blocks competing in the global allocation).
    public init(adapter: Adapter, selection: Selection, dtype: DType, useRSLoRA: Bool) throws {
        let melora = adapter.format == .melora
        // One unit per block (a plain LoRA module is one block).
        var svds: [ThinSVD] = []
        var scales: [Double] = []
        var owners: [Int] = []
        var units: [ModuleDelta.Block] = []
        for (index, delta) in adapter.deltas.enumerated() {
            guard delta.magnitude == nil else {
                throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "a DoRA module's merged weight is m·(W + ΔW)/‖W + ΔW‖, so truncating ΔW also rescales every column through the norm, by amounts that depend on the base W this command does not read; no rank choice here could report or bound that error. Merge the adapter (ckpt merge), then ckpt extract BASE MERGED --rank R for a plain LoRA whose error is measured against the merged weights")
            }
            guard melora || delta.blocks.count == 1 else {
                throw SurgeryError.malformedAdapter(path: adapter.path, tensor: delta.module, message: "a LoRA module needs exactly one A/B pair")
            }
            for block in delta.blocks {
                // kohya decomposes up·down without the scale and carries the scale in alpha.
                svds.append(try LowRankSVD.ofProduct(b: block.b, a: block.a, scale: 1))
                scales.append(block.scale)
                owners.append(index)
                units.append(block)
            }
        }
        var ranks: [Int]
        var requested: [Int]
        switch selection {
        case let .rule(rule, maxRank):
            requested = zip(units, svds).map { block, svd in
                rule.select(sigma: svd.sigma.map(Double.init), fullLength: min(block.b.rows, block.a.columns), maxRank: maxRank ?? block.a.rows)
            }
            ranks = zip(requested, svds).map { min($0, $1.sigma.count) }
        case let .global(target):
            let scaled = zip(svds, scales).map { svd, scale in svd.sigma.map { Double($0) * abs(scale) } }
            let costs = units.map { ($0.b.rows + $0.a.columns) * dtype.bytesPerElementForOutput }
            if case let .budget(bytes) = target, costs.reduce(0, +) > bytes {
                throw LowRankEditError.budgetTooSmall(bytes: bytes, minimum: costs.reduce(0, +))
            }
            ranks = RankAllocation.allocate(sigma: scaled, bytesPerComponent: costs, target: target)
            requested = ranks
        }
        var keptEnergy = 0.0, totalEnergy = 0.0
        var modules: [LoRAOutput.Module] = []
        var results: [ModuleResult] = []
        var meloraModules: [(module: String, blocks: [ModuleDelta.Block])] = []
        for (index, delta) in adapter.deltas.enumerated() {
            var kept: [Double] = [], all: [Double] = []
            var blocks: [ModuleDelta.Block] = []
            var capped = false
            for unit in owners.indices where owners[unit] == index {
                let svd = svds[unit], scale = scales[unit], k = max(ranks[unit], 1)
                // Plain LoRA: σ of up·down, scale kept in alpha (kohya's figures). MELoRA: the scaled
                // σ (blocks have their own scales), scale baked into B.
                let factor = melora ? abs(scale) : 1
                let sigma = svd.sigma.map { Double($0) * factor }
                let factors = svd.loraFactors(rank: k, scale: melora ? 1 / scale : 1)
                kept += sigma.prefix(factors.a.rows)
                all += sigma
                totalEnergy += sigma.reduce(0) { $0 + $1 * $1 } * scale * scale / (factor * factor)
                keptEnergy += sigma.prefix(factors.a.rows).reduce(0) { $0 + $1 * $1 } * scale * scale / (factor * factor)
                capped = capped || requested[unit] > factors.a.rows
                if melora {
                    blocks.append(ModuleDelta.Block(b: factors.b, a: factors.a, scale: 1, rowOffset: units[unit].rowOffset, columnOffset: units[unit].columnOffset))
                } else {
                    let alpha = LoRAOutput.alpha(scale: scale, rank: factors.a.rows, rsLoRA: useRSLoRA)
                    modules.append(LoRAOutput.Module(module: delta.module, kind: delta.kind, kernel: delta.kernel, b: factors.b, a: factors.a, alpha: alpha, bias: delta.bias))
                }
            }
            if melora { meloraModules.append((delta.module, blocks)) }
            all.sort(by: >)
            kept.sort(by: >)
            let sum = all.reduce(0, +), squares = all.reduce(0) { $0 + $1 * $1 }
            let newRank = melora ? blocks.reduce(0) { $0 + $1.a.rows } : (modules.last?.rank ?? 0)
            let scale = delta.blocks.first?.scale ?? 1
            results.append(ModuleResult(
                module: delta.module, oldRank: delta.rank, newRank: newRank,
                oldAlpha: melora ? .nan : LoRAOutput.alpha(scale: scale, rank: delta.rank, rsLoRA: useRSLoRA),
                newAlpha: melora ? .nan : (modules.last?.alpha ?? .nan),
                sumRetained: sum > 0 ? kept.reduce(0, +) / sum : 1,
                frobeniusRetained: squares > 0 ? (kept.reduce(0) { $0 + $1 * $1 } / squares).squareRoot() : 1,
                maxRatio: (kept.last ?? 0) > 0 ? (all.first ?? 0) / (kept.last ?? 1) : .infinity,
                capped: capped))
        }
        self.meloraModules = meloraModules
        var passThrough: [LoRAOutput.PassThrough] = adapter.replacements.map { .init(reader: $0.reader, index: $0.index) }
        passThrough.sort { $0.name < $1.name }
        output = LoRAOutput(modules: modules, passThrough: passThrough, useRSLoRA: useRSLoRA, dtype: dtype)
        output.naming = ModuleNaming(of: adapter)
        self.results = results
        energyRetained = totalEnergy > 0 ? keptEnergy / totalEnergy : 1
        var notes: [String] = []
        let capped = results.filter(\.capped).count
        if capped > 0 { notes.append("\(capped) modules asked for more components than their rank holds; kept their full rank (kohya would pad with zero components)") }
        self.notes = notes
    }
}
