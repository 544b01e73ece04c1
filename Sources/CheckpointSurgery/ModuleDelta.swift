import CheckpointLinalg

/// One adapter's low-rank update of one module, in the (out × in) orientation of a Linear layer:
/// ΔW = Σ_blocks scale · B·A placed at (rowOffset, columnOffset). A plain LoRA has one block; a
/// MELoRA adapter has one block per diagonal piece.
public struct ModuleDelta: Sendable {
    public struct Block: Sendable {
        /// "up", (out_block × r)
        public var b: Matrix
        /// "down", (r × in_block)
        public var a: Matrix
        public var scale: Double
        public var rowOffset: Int
        public var columnOffset: Int
    }

    public enum Kind: String, Sendable {
        case linear
        /// PEFT `lora_embedding_A/B`: the base stores (num_embeddings × dim) = ΔWᵀ.
        case embedding
        /// Convolution: the base stores (out, in/groups, kh, kw), ΔW reshaped from (out × in·kh·kw).
        case convolution
    }

    /// Which axis a DoRA magnitude normalises, in the (out × in) orientation.
    public enum NormAxis: String, Sendable {
        /// One norm per output feature over all inputs (PEFT, MLX, `dora_scale` of shape [out, 1]).
        case perOutput = "per-output"
        /// One norm per input feature over all outputs (`dora_scale` of shape [1, in], ComfyUI default).
        case perInput = "per-input"
    }

    public struct Magnitude: Sendable {
        public var values: [Double]
        public var axis: NormAxis
        /// Added to each norm before dividing (LyCORIS adds Float32 epsilon; PEFT adds nothing).
        public var epsilon: Double
    }

    /// The module path as the adapter names it (after removing the adapter's own prefixes).
    public var module: String
    public var kind: Kind
    public var outFeatures: Int
    public var inFeatures: Int
    public var blocks: [Block]
    /// The base stores this weight transposed, (in × out): GPT-2 Conv1D (`fan_in_fan_out`), embeddings.
    public var transposedInBase: Bool
    /// Trailing kernel dimensions of a convolution (empty otherwise).
    public var kernel: [Int]
    public var magnitude: Magnitude?
    /// `lora_B.bias` (out), added to the base bias times the block's scale.
    public var bias: [Double]?
    public var biasScale: Double
    /// Total rank (sum over blocks), and the scale for reports.
    public var rank: Int { blocks.reduce(0) { $0 + $1.a.rows } }

    /// Base shape this delta expects, outermost first.
    public var expectedBaseShape: [Int] {
        switch kind {
        case .convolution: return [outFeatures, inFeatures / max(kernel.reduce(1, *), 1)] + kernel
        default: return transposedInBase ? [inFeatures, outFeatures] : [outFeatures, inFeatures]
        }
    }

    /// Whether a DoRA norm runs along the stored rows (one factor per stored row) rather than down
    /// the stored columns.
    var doraFactorPerStoredRow: Bool { (magnitude?.axis != .perInput) != transposedInBase }

    /// The blocks as row producers in the base's storage orientation (rows of the stored tensor,
    /// viewed as 2-D: first dimension × the rest).
    func storedProducts() throws -> [(rows: LowRankRows, scale: Double, rowOffset: Int, columnOffset: Int)] {
        try blocks.map { block in
            if transposedInBase {
                return (try LowRankRows(u: block.a.transposed(), v: block.b.transposed()), block.scale, block.columnOffset, block.rowOffset)
            }
            return (try LowRankRows(u: block.b, v: block.a), block.scale, block.rowOffset, block.columnOffset)
        }
    }
}
