import CheckpointCore

/// The noise ggml block quantization leaves in a dequantized tensor, estimated from the values
/// themselves. Rounding to a uniform grid of step s leaves an error that is (for values spread over
/// many steps) uniform on [−s/2, s/2]: variance s²/12 per element.
///
/// The step of each group (a block, or a K-quant sub-block, sharing one scale) follows from the
/// group's dequantized values: symmetric grids reach ±divisor·s (the element of largest magnitude is
/// coded at the end of the grid by ggml's quantizers), affine grids span (levels − 1)·s. That is exact
/// for the legacy types (Q4_0 … Q8_0) and, for K-quants whose 6-bit sub-block scales may leave the
/// top code unused, a lower bound of the step: the floor errs towards keeping components.
enum QuantizationNoise {
    struct Grid: Equatable {
        /// Elements sharing one step, consecutive in storage (blocks run along rows).
        var group: Int
        /// Symmetric grid: step = max |x| / divisor. Affine grid: step = (max − min) / divisor.
        var divisor: Double
        var affine: Bool
    }

    /// The grid of a block type with uniform codes; nil for element types and for the codebook types
    /// (IQ*, MXFP4), whose non-uniform levels this model does not describe.
    static func grid(_ type: DType) -> Grid? {
        switch type {
        case .q8_0, .q8_1: return Grid(group: 32, divisor: 127, affine: false)
        case .q4_0: return Grid(group: 32, divisor: 8, affine: false)
        case .q5_0: return Grid(group: 32, divisor: 16, affine: false)
        case .q4_1: return Grid(group: 32, divisor: 15, affine: true)
        case .q5_1: return Grid(group: 32, divisor: 31, affine: true)
        case .q2K: return Grid(group: 16, divisor: 3, affine: true)
        case .q3K: return Grid(group: 16, divisor: 4, affine: false)
        case .q4K: return Grid(group: 32, divisor: 15, affine: true)
        case .q5K: return Grid(group: 32, divisor: 31, affine: true)
        case .q6K: return Grid(group: 16, divisor: 32, affine: false)
        case .q8K: return Grid(group: 256, divisor: 127, affine: false)
        case .tq1_0, .tq2_0: return Grid(group: 256, divisor: 1, affine: false)
        default: return nil
        }
    }

    /// Expected ‖noise‖²_F of a dequantized tensor: Σ over groups of (group size)·s²/12.
    static func energy(of values: [Float], grid: Grid) -> Double {
        var total = 0.0
        var start = 0
        while start < values.count {
            let end = min(start + grid.group, values.count)
            var low = values[start], high = values[start], magnitude: Float = 0
            for value in values[start..<end] {
                low = min(low, value)
                high = max(high, value)
                magnitude = max(magnitude, abs(value))
            }
            let step = (grid.affine ? Double(high) - Double(low) : Double(magnitude)) / grid.divisor
            total += Double(end - start) * step * step / 12
            start = end
        }
        return total
    }

    /// The largest singular value expected of an m×n matrix of independent noise with total energy
    /// `energy`: σ·(√m + √n) with σ² = energy / (m·n) (the edge of the Marchenko–Pastur law).
    static func floor(energy: Double, rows: Int, columns: Int) -> Double {
        guard energy > 0, rows > 0, columns > 0 else { return 0 }
        let sigma = (energy / (Double(rows) * Double(columns))).squareRoot()
        return sigma * (Double(rows).squareRoot() + Double(columns).squareRoot())
    }
}
