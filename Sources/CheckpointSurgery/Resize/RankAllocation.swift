/// Global rank allocation across modules: keep the singular components with the largest energy gain
/// σ² per byte first, until a byte budget is spent or an energy fraction of the whole adapter is
/// kept. Within a module σ² decreases and the cost per component is fixed, so the chosen set is
/// always a prefix of every module's spectrum; every module keeps at least one component.
public enum RankAllocation {
    public enum Target: Sendable, Equatable {
        /// Bytes the kept factors may take.
        case budget(Int)
        /// Fraction of Σ σ² over all modules to keep.
        case energy(Double)
    }

    /// `sigma[m]` is module m's spectrum (decreasing, of the scaled ΔW); `bytesPerComponent[m]` is
    /// (out + in) × bytes per element. Returns the rank per module.
    public static func allocate(sigma: [[Double]], bytesPerComponent: [Int], target: Target) -> [Int] {
        var ranks = sigma.map { $0.isEmpty ? 0 : 1 }
        var spent = zip(ranks, bytesPerComponent).reduce(0) { $0 + $1.0 * $1.1 }
        let total = sigma.reduce(0.0) { $0 + $1.reduce(0) { $0 + $1 * $1 } }
        var kept = sigma.reduce(0.0) { $0 + ($1.first.map { $0 * $0 } ?? 0) }
        // Every further component, best gain per byte first (ties: module order, then index).
        var candidates: [(gain: Double, module: Int, index: Int)] = []
        for (module, values) in sigma.enumerated() {
            for index in values.indices.dropFirst() {
                candidates.append((values[index] * values[index] / Double(max(bytesPerComponent[module], 1)), module, index))
            }
        }
        candidates.sort { ($0.gain, -$0.module, -$0.index) > ($1.gain, -$1.module, -$1.index) }
        for candidate in candidates {
            switch target {
            case let .budget(bytes):
                let cost = bytesPerComponent[candidate.module]
                guard ranks[candidate.module] == candidate.index, spent + cost <= bytes else { continue }
                ranks[candidate.module] += 1
                spent += cost
            case let .energy(fraction):
                if kept >= fraction * total { return ranks }
                guard ranks[candidate.module] == candidate.index else { continue }
                ranks[candidate.module] += 1
                kept += sigma[candidate.module][candidate.index] * sigma[candidate.module][candidate.index]
            }
        }
        return ranks
    }
}
