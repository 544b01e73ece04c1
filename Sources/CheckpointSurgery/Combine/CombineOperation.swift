import CheckpointCore
import CheckpointLinalg

/// `ckpt combine`: the exact weighted sum Σ wⱼ·ΔWⱼ of several adapters, module by module. The sum
/// of low-rank products is itself the product of concatenated factors, [w₁s₁B₁ | w₂s₂B₂ | …] ·
/// [A₁; A₂; …], so there are no cross terms (unlike averaging A and B separately). That product is
/// recompressed by its factor SVD to its numerical rank (lossless) or to `--rank` (optimal truncation).
public struct CombineOperation {
    public struct ModuleResult: Sendable {
        public var module: String
        public var inputRanks: [Int]
        public var rank: Int
        /// Σ kept σ² / Σ σ² of the exact sum.
        public var energyRetained: Double
    }

    public var output: LoRAOutput
    public var results: [ModuleResult]

    public init(adapters: [Adapter], weights: [Double], rank: Int?, dtype: DType, useRSLoRA: Bool) throws {
        let naming = adapters.first.map(ModuleNaming.init(of:)) ?? .huggingFace
        if let other = adapters.first(where: { ModuleNaming(of: $0) != naming }) {
            throw LowRankEditError.mismatchedModules(first: adapters[0].path, second: other.path, module: "*",
                                                     reason: "they name modules differently (\(naming.rawValue) against \(ModuleNaming(of: other).rawValue)); write them in one layout first (ckpt resize ADAPTER --rank R --to LAYOUT, with R the adapter's rank)")
        }
        var order: [String] = []
        var parts: [String: [(adapter: Int, b: Matrix, a: Matrix, rank: Int, delta: ModuleDelta)]] = [:]
        for (index, adapter) in adapters.enumerated() {
            for delta in adapter.deltas {
                guard delta.magnitude == nil else {
                    throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "DoRA deltas are not additive (each is normalised against its own W + ΔW); merge such adapters one after the other instead")
                }
                guard delta.bias == nil else {
                    throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "lora_B.bias is not combined by this build; merge the adapters instead")
                }
                // One factor pair per module with the weight and scale on B (a MELoRA delta joined exactly).
                var joined = MELoRAJoin.module(delta)
                for i in joined.b.elements.indices { joined.b.elements[i] = Float(Double(joined.b.elements[i]) * weights[index]) }
                if let first = parts[delta.module]?.first {
                    guard first.delta.outFeatures == delta.outFeatures, first.delta.inFeatures == delta.inFeatures, first.delta.kind == delta.kind else {
                        throw LowRankEditError.mismatchedModules(first: adapters[first.adapter].path, second: adapter.path, module: delta.module,
                                                                 reason: "\(first.delta.outFeatures)×\(first.delta.inFeatures) against \(delta.outFeatures)×\(delta.inFeatures)")
                    }
                } else {
                    order.append(delta.module)
                }
                parts[delta.module, default: []].append((index, joined.b, joined.a, delta.rank, delta))
            }
        }
        var modules: [LoRAOutput.Module] = []
        var results: [ModuleResult] = []
        for module in order {
            guard let pieces = parts[module], let first = pieces.first else { continue }
            let total = pieces.reduce(0) { $0 + $1.rank }
            var b = Matrix(rows: first.delta.outFeatures, columns: total)
            var a = Matrix(rows: total, columns: first.a.columns)
            var offset = 0
            for piece in pieces {
                for row in 0..<b.rows { for j in 0..<piece.rank { b[row, offset + j] = piece.b[row, j] } }
                for i in 0..<piece.rank { for j in 0..<a.columns { a[offset + i, j] = piece.a[i, j] } }
                offset += piece.rank
            }
            let svd = try LowRankSVD.ofProduct(b: b, a: a, scale: 1)
            let sigma = svd.sigma.map(Double.init)
            let numerical = RankStatistics(sigma: sigma, storedRank: total, rows: b.rows, columns: a.columns).numericalRank
            let k = max(min(rank ?? numerical, sigma.count), 1)
            let factors = svd.loraFactors(rank: k)
            let squares = sigma.reduce(0) { $0 + $1 * $1 }
            modules.append(LoRAOutput.Module(module: module, kind: first.delta.kind, kernel: first.delta.kernel, b: factors.b, a: factors.a,
                                             alpha: LoRAOutput.alpha(scale: 1, rank: factors.a.rows, rsLoRA: useRSLoRA)))
            results.append(ModuleResult(module: module, inputRanks: pieces.map(\.rank), rank: factors.a.rows,
                                        energyRetained: squares > 0 ? sigma.prefix(factors.a.rows).reduce(0) { $0 + $1 * $1 } / squares : 1))
        }
        var passThrough: [LoRAOutput.PassThrough] = []
        var replacedBy: [String: String] = [:]
        for adapter in adapters {
            for replacement in adapter.replacements {
                let name = replacement.info.name
                if let other = replacedBy[name] {
                    throw SurgeryError.conflictingReplacement(tensor: name, first: other, second: adapter.path)
                }
                replacedBy[name] = adapter.path
                passThrough.append(.init(reader: replacement.reader, index: replacement.index))
            }
        }
        output = LoRAOutput(modules: modules, passThrough: passThrough, useRSLoRA: useRSLoRA, dtype: dtype)
        output.naming = naming
        self.results = results
    }
}
