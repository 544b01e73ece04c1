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

    public var relativeChange: Double { baseNorm > 0 ? changeNorm / baseNorm : (changeNorm > 0 ? .infinity : 0) }
}
