import CheckpointLinalg

/// The singular spectrum of one module's ΔW, computed from its factors (QR of B and Aᵀ, SVD of the
/// r×r core; `LowRankSVD`). A MELoRA delta is block-diagonal, so its spectrum is the union of its
/// blocks' spectra; the per-block spectra are kept for the per-block report.
public struct ModuleSpectrum: Sendable {
    public var module: String
    public var kind: ModuleDelta.Kind
    /// ΔW is rows × columns (out × in·kernel) in the Linear orientation.
    public var rows: Int
    public var columns: Int
    public var storedRank: Int
    /// σ of ΔW = Σ scale·B·A, decreasing.
    public var sigma: [Double]
    /// σ of each block (one entry for a plain LoRA).
    public var blockSigma: [[Double]]
    public var blockRanks: [Int]

    public init(delta: ModuleDelta) throws {
        module = delta.module
        kind = delta.kind
        rows = delta.outFeatures
        columns = delta.inFeatures
        storedRank = delta.rank
        blockRanks = delta.blocks.map { $0.a.rows }
        blockSigma = try delta.blocks.map { block in
            let svd = try LowRankSVD.ofProduct(b: block.b, a: block.a, scale: 1)
            return svd.sigma.map { Double($0) * abs(block.scale) }
        }
        sigma = blockSigma.flatMap { $0 }.sorted(by: >)
    }

    public var statistics: RankStatistics {
        RankStatistics(sigma: sigma, storedRank: storedRank, rows: rows, columns: columns)
    }

    /// Per-block statistics (MELoRA); each block is (rows/n) × (columns/n).
    public var blockStatistics: [RankStatistics] {
        zip(blockSigma, blockRanks).map { sigma, rank in
            RankStatistics(sigma: sigma, storedRank: rank, rows: rows / max(blockRanks.count, 1), columns: columns / max(blockRanks.count, 1))
        }
    }

    /// The module's layer index: the first all-digit component of its path (`…layers.3.mlp…` → 3).
    public var layer: Int? {
        for part in module.split(separator: ".") where !part.isEmpty && part.allSatisfy(\.isNumber) { return Int(part) }
        // kohya-flattened names: `lora_unet_…_layers_3_mlp…`.
        for part in module.split(separator: "_") where !part.isEmpty && part.allSatisfy(\.isNumber) { return Int(part) }
        return nil
    }

    /// The module's type: the last path component (`q_proj`, `down_proj`, `lm_head`).
    public var moduleType: String {
        if let last = module.split(separator: ".").last, module.contains(".") { return String(last) }
        // kohya-flattened: the text after the last layer number (`…_3_self_attn_q_proj` → `self_attn_q_proj`).
        let parts = module.split(separator: "_")
        if let index = parts.lastIndex(where: { $0.allSatisfy(\.isNumber) }), index + 1 < parts.count {
            return parts[(index + 1)...].joined(separator: "_")
        }
        return module
    }
}
