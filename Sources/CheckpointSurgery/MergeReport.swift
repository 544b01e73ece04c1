/// What a merge did to one tensor, for `--report` / `--json`.
public struct TensorChange: Sendable {
    public var tensor: String
    public var module: String
    /// Adapter indices (in command-line order) that changed it.
    public var adapters: [Int]
    public var rank: Int
    public var kind: String
    /// ‖W‖_F of the input and ‖result − W‖_F (before rounding into the output dtype).
    public var baseNorm: Double
    public var changeNorm: Double
    /// Quantized outputs: ‖requantized − Float32 merged‖_F, the error quantizing back adds (nil otherwise).
    public var requantizationNorm: Double? = nil

    public var relativeChange: Double { baseNorm > 0 ? changeNorm / baseNorm : (changeNorm > 0 ? .infinity : 0) }
    /// ‖requantization error‖ / ‖ΔW‖ (equal to the ratio of their RMS over the tensor).
    public var relativeRequantization: Double? {
        requantizationNorm.map { changeNorm > 0 ? $0 / changeNorm : ($0 > 0 ? .infinity : 0) }
    }
}
