import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// What `ckpt rank` reports: per module its spectrum and rank measures (and, with a base, the size of
/// ΔW relative to W), aggregated by layer and by module type.
public struct RankReport: Sendable {
    public struct Module: Sendable {
        public var spectrum: ModuleSpectrum
        public var statistics: RankStatistics
        /// Per MELoRA block (empty for a plain LoRA).
        public var blocks: [RankStatistics]
        /// ‖ΔW‖_F / ‖W‖_F and σ₁(ΔW) / σ₁(W), with a base.
        public var relativeNorm: Double?
        public var spectralRatio: Double?
    }

    /// Means (and sums of ranks) over a group of modules.
    public struct Group: Sendable {
        public var key: String
        public var modules = 0
        public var storedRank = 0
        public var numericalRank = 0
        public var unusedRank = 0
        public var entropyRank = 0.0
        public var stableRank = 0.0
        public var participationRatio = 0.0
        public var energyRank90 = 0.0
        public var energyRank95 = 0.0
        public var energyRank99 = 0.0
        public var relativeNorm: Double?
        public var spectralRatio: Double?
    }

    public var adapterPath: String
    public var format: AdapterFormat
    public var basePath: String?
    public var modules: [Module]
    public var notes: [String]

    /// Analyses every low-rank module of `adapter`; with `base`, also reads each module's base weight
    /// (one at a time) for ‖W‖_F and σ₁(W) (subspace iteration, not a dense SVD).
    public init(adapter: Adapter, base: (any CheckpointReader)? = nil, basePath: String? = nil) throws {
        adapterPath = adapter.path
        format = adapter.format
        self.basePath = basePath
        notes = adapter.notes
        if adapter.deltas.contains(where: { $0.magnitude != nil }) {
            notes.append("DoRA modules: the spectra are those of s·B·A; the magnitude vector's rescaling is not part of them")
        }
        let names = base.map { BaseNames(tensors: $0.tensors, tieWordEmbeddings: basePath.flatMap(BaseNames.tieWordEmbeddings(basePath:))) }
        var result: [Module] = []
        for delta in adapter.deltas {
            let spectrum = try ModuleSpectrum(delta: delta)
            let statistics = spectrum.statistics
            var module = Module(spectrum: spectrum, statistics: statistics, blocks: delta.blocks.count > 1 ? spectrum.blockStatistics : [])
            if let base, let names {
                let (index, tried) = names.resolve(module: delta.module, parameter: "weight", flattenedNames: adapter.flattenedNames)
                guard let index else { throw SurgeryError.unmatched(adapter: adapter.path, module: delta.module, tried: tried) }
                let weight = try TensorMatrix.read(base, index: index)
                guard weight.elements.count == delta.outFeatures * delta.inFeatures else {
                    throw SurgeryError.shapeMismatch(adapter: adapter.path, module: delta.module, adapterShape: "\(delta.outFeatures)×\(delta.inFeatures)",
                                                     base: base.tensors[index].name, baseShape: base.tensors[index].shape)
                }
                let norm = weight.frobeniusNorm
                // A 32-column subspace iteration (Rayleigh–Ritz): converges where single-vector power
                // iteration stalls because σ₁ and σ₂ are close, as in nearly random weights.
                let top = Double(try RandomizedSVD(weight, rank: 1, options: .init(oversampling: 31, powerIterations: 10)).svd.sigma.first ?? 0)
                module.relativeNorm = norm > 0 ? statistics.frobeniusNorm / norm : nil
                module.spectralRatio = top > 0 ? statistics.spectralNorm / top : nil
            }
            result.append(module)
        }
        modules = result
    }

    public var byLayer: [Group] {
        group { $0.spectrum.layer.map(String.init) ?? "-" }
            .sorted { (Int($0.key) ?? Int.max, $0.key) < (Int($1.key) ?? Int.max, $1.key) }
    }

    public var byType: [Group] { group { $0.spectrum.moduleType } }

    public var total: Group { group { _ in "all" }.first ?? Group(key: "all") }

    /// Groups in first-seen order.
    func group(_ key: (Module) -> String) -> [Group] {
        var order: [String] = []
        var groups: [String: Group] = [:]
        var relative: [String: [Double]] = [:], spectral: [String: [Double]] = [:]
        for module in modules {
            let name = key(module)
            if groups[name] == nil { order.append(name); groups[name] = Group(key: name) }
            let s = module.statistics
            groups[name]?.modules += 1
            groups[name]?.storedRank += s.storedRank
            groups[name]?.numericalRank += s.numericalRank
            groups[name]?.unusedRank += s.unusedRank
            groups[name]?.entropyRank += s.entropyRank
            groups[name]?.stableRank += s.stableRank
            groups[name]?.participationRatio += s.participationRatio
            groups[name]?.energyRank90 += Double(s.energyRank90)
            groups[name]?.energyRank95 += Double(s.energyRank95)
            groups[name]?.energyRank99 += Double(s.energyRank99)
            if let value = module.relativeNorm { relative[name, default: []].append(value) }
            if let value = module.spectralRatio { spectral[name, default: []].append(value) }
        }
        return order.compactMap { name in
            guard var g = groups[name] else { return nil }
            let count = Double(max(g.modules, 1))
            g.entropyRank /= count
            g.stableRank /= count
            g.participationRatio /= count
            g.energyRank90 /= count
            g.energyRank95 /= count
            g.energyRank99 /= count
            if let values = relative[name], !values.isEmpty { g.relativeNorm = values.reduce(0, +) / Double(values.count) }
            if let values = spectral[name], !values.isEmpty { g.spectralRatio = values.reduce(0, +) / Double(values.count) }
            return g
        }
    }
}
