import CheckpointLinalg

/// Re-splits plain LoRA modules into N MELoRA mini-LoRAs (peers.md §4.9): the N diagonal blocks of ΔW
/// (input slice i → output slice i), each truncated by its exact SVD (from the sliced factors: block i
/// is s·B[rows i]·A[:, columns i]) — the best block-diagonal approximation of each rank. What the
/// split loses is the off-diagonal energy plus each block's SVD tail, both reported.
public struct MELoRASplit {
    public enum Allocation: Sendable, Equatable {
        /// r_i = R / N for every block.
        case equal
        /// The R largest singular values of all blocks together: the optimal block ranks for a total R.
        case energy
    }

    public struct ModuleResult: Sendable {
        public var module: String
        public var blockRanks: [Int]
        /// ‖ΔW‖²_F.
        public var energy: Double
        /// ‖offdiag(ΔW)‖²_F / ‖ΔW‖²_F.
        public var offDiagonalFraction: Double
        /// Σ_{j > r_i} σ_j(block i)², absolute.
        public var blockTailEnergy: [Double]
        /// Everything lost, as a fraction of ‖ΔW‖²_F.
        public var lostFraction: Double {
            energy > 0 ? offDiagonalFraction + blockTailEnergy.reduce(0, +) / energy : 0
        }
    }

    /// Blocks with scale 1 (the scale is baked into B).
    public var modules: [(module: String, blocks: [ModuleDelta.Block], delta: ModuleDelta)]
    public var results: [ModuleResult]

    /// `totalRank` is R per module (nil: the module's own rank).
    public init(adapter: Adapter, splits: Int, totalRank: Int?, allocation: Allocation) throws {
        guard splits >= 1 else { throw LowRankEditError.notDivisible(module: "", rows: 0, columns: 0, splits: splits, valid: []) }
        guard adapter.format != .melora else {
            throw LowRankEditError.cannotResize(path: adapter.path, module: adapter.deltas.first?.module ?? "", reason: "already a MELoRA adapter; join it first with `ckpt melora --join`, then re-split the result")
        }
        for delta in adapter.deltas where delta.kind != .linear {
            throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "MELoRA blocks apply to Linear modules, and this one is \(delta.kind.rawValue)")
        }
        for delta in adapter.deltas where delta.outFeatures % splits != 0 || delta.inFeatures % splits != 0 {
            throw LowRankEditError.notDivisible(module: delta.module, rows: delta.outFeatures, columns: delta.inFeatures, splits: splits,
                                                valid: Self.validSplits(adapter.deltas))
        }
        var modules: [(String, [ModuleDelta.Block], ModuleDelta)] = []
        var results: [ModuleResult] = []
        for delta in adapter.deltas {
            guard delta.magnitude == nil, delta.bias == nil, delta.blocks.count == 1, let block = delta.blocks.first else {
                throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "MELoRA blocks hold a plain LoRA only (no DoRA magnitude, no lora_B.bias)")
            }
            let total = totalRank ?? delta.rank
            let rowsPerBlock = delta.outFeatures / splits, columnsPerBlock = delta.inFeatures / splits
            let whole = try LowRankSVD.ofProduct(b: block.b, a: block.a, scale: Float(block.scale))
            let energy = whole.sigma.reduce(0.0) { $0 + Double($1) * Double($1) }
            var svds: [ThinSVD] = []
            for i in 0..<splits {
                let b = block.b.withView { $0.rows(i * rowsPerBlock..<(i + 1) * rowsPerBlock).copy() }
                let a = block.a.withView { $0.columns(i * columnsPerBlock..<(i + 1) * columnsPerBlock).copy() }
                svds.append(try LowRankSVD.ofProduct(b: b, a: a, scale: Float(block.scale)))
            }
            let ranks: [Int]
            switch allocation {
            case .equal:
                guard total % splits == 0 else {
                    throw LowRankEditError.cannotResize(path: adapter.path, module: delta.module, reason: "equal block ranks need the total rank \(total) to be a multiple of --splits \(splits); pass --rank, or --allocate energy")
                }
                ranks = Array(repeating: total / splits, count: splits)
            case .energy:
                ranks = Self.energyRanks(svds.map { $0.sigma.map(Double.init) }, total: total)
            }
            var blocks: [ModuleDelta.Block] = []
            var tails: [Double] = []
            var diagonal = 0.0
            for (i, svd) in svds.enumerated() {
                let k = min(ranks[i], svd.sigma.count)
                let factors = svd.loraFactors(rank: k)
                blocks.append(ModuleDelta.Block(b: factors.b, a: factors.a, scale: 1, rowOffset: i * rowsPerBlock, columnOffset: i * columnsPerBlock))
                let squares = svd.sigma.map { Double($0) * Double($0) }
                diagonal += squares.reduce(0, +)
                tails.append(squares.dropFirst(k).reduce(0, +))
            }
            modules.append((delta.module, blocks, delta))
            results.append(ModuleResult(module: delta.module, blockRanks: blocks.map { $0.a.rows }, energy: energy,
                                        offDiagonalFraction: energy > 0 ? max(energy - diagonal, 0) / energy : 0, blockTailEnergy: tails))
        }
        self.modules = modules
        self.results = results
    }

    /// The top `total` singular values across blocks, counted per block.
    static func energyRanks(_ spectra: [[Double]], total: Int) -> [Int] {
        var all: [(value: Double, block: Int)] = []
        for (block, sigma) in spectra.enumerated() { for value in sigma { all.append((value, block)) } }
        all.sort { ($0.value, -$0.block) > ($1.value, -$1.block) }
        var ranks = Array(repeating: 0, count: spectra.count)
        for entry in all.prefix(total) { ranks[entry.block] += 1 }
        return ranks
    }

    /// Every N > 1 that divides both dimensions of every module.
    public static func validSplits(_ deltas: [ModuleDelta]) -> [Int] {
        let limit = deltas.map { min($0.outFeatures, $0.inFeatures) }.min() ?? 0
        guard limit >= 2 else { return [] }
        return (2...limit).filter { n in deltas.allSatisfy { $0.kind == .linear && $0.outFeatures % n == 0 && $0.inFeatures % n == 0 } }
    }
}
