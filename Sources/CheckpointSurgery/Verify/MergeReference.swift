import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// The float64 reference of one tensor a merge changes: the plan's steps (each adapter's
/// weight · scale · B·A in the base's storage orientation, DoRA, `lora_B.bias`) evaluated in Double
/// from the same W and factors, with each element's operand scale
/// |W| + Σ_steps |weight · scale| · Σ_k |B_ik · A_kj| (times |m / ‖W + ΔW‖| for a DoRA step).
///
/// Sums over the rank and over a DoRA row run in ascending index order, so a float64 script that
/// accumulates in the same order (fixtures/surgery/verify_reference.py) gets the same bits.
struct MergeReference {
    struct Product {
        var u: Matrix
        var v: Matrix
        /// weight × scale, not rounded to Float32 (the merge rounds it, as PyTorch does).
        var scale: Double
        var rowOffset: Int
        var columnOffset: Int
    }

    struct Step {
        var products: [Product]
        var magnitude: ModuleDelta.Magnitude?
        var factorPerRow: Bool
    }

    let rows: Int
    let columns: Int
    let steps: [Step]
    let biasSteps: [MergePlan.BiasStep]
    /// Where W is read: the base tensor, or the adapter's replacement of it (modules_to_save).
    let source: RowSource
    /// Per DoRA step whose factors run down the stored columns: ‖W + ΔW_k‖ of every column.
    private(set) var columnNorms: [Int: [Double]] = [:]

    init(target: MergePlan.Target, info: TensorInfo, base: any CheckpointReader) throws {
        (rows, columns) = TensorMerge.matrixShape(info)
        steps = try target.steps.map { step in
            Step(products: try step.delta.storedProducts().map { Product(u: $0.rows.u, v: $0.rows.v, scale: $0.scale * step.weight, rowOffset: $0.rowOffset, columnOffset: $0.columnOffset) },
                 magnitude: step.delta.magnitude, factorPerRow: step.delta.doraFactorPerStoredRow)
        }
        biasSteps = target.biasSteps
        let replaced = target.replacement?.tensor
        source = RowSource(reader: replaced?.reader ?? base, index: replaced?.index ?? target.source, columns: columns)
    }

    /// Step `k`'s ΔW row and Σ|w·s|·Σ|B·A| row, both `columns` long.
    func deltaRow(step k: Int, row: Int) -> (delta: [Double], magnitude: [Double]) {
        var delta = [Double](repeating: 0, count: columns)
        var magnitude = [Double](repeating: 0, count: columns)
        for product in steps[k].products where row >= product.rowOffset && row < product.rowOffset + product.u.rows {
            let r = product.u.columns, n = product.v.columns, local = row - product.rowOffset
            var sum = [Double](repeating: 0, count: n), absolute = [Double](repeating: 0, count: n)
            for t in 0..<r {
                let b = Double(product.u.elements[local * r + t])
                for j in 0..<n {
                    let term = b * Double(product.v.elements[t * n + j])
                    sum[j] += term
                    absolute[j] += abs(term)
                }
            }
            for j in 0..<n {
                delta[product.columnOffset + j] += product.scale * sum[j]
                magnitude[product.columnOffset + j] += abs(product.scale) * absolute[j]
            }
        }
        return (delta, magnitude)
    }

    /// The column norms of DoRA steps that need them: one pass over every row of W.
    mutating func prepareColumnNorms() throws {
        let wanted = steps.indices.filter { steps[$0].magnitude != nil && !steps[$0].factorPerRow }
        guard !wanted.isEmpty else { return }
        var sums = wanted.map { _ in [Double](repeating: 0, count: columns) }
        var w = [Double](repeating: 0, count: columns)
        for row in 0..<rows {
            try w.withUnsafeMutableBufferPointer { try source.read(rows: row..<(row + 1), into: $0) }
            for (position, k) in wanted.enumerated() {
                let delta = deltaRow(step: k, row: row).delta
                for j in 0..<columns { let v = w[j] + delta[j]; sums[position][j] += v * v }
            }
        }
        for (position, k) in wanted.enumerated() { columnNorms[k] = sums[position].map { $0.squareRoot() } }
    }

    /// Row `row` of the merged tensor in float64 and each element's operand scale, from W's row.
    func row(_ row: Int, w: [Double]) -> (values: [Double], scale: [Double]) {
        var values = w
        var scale = w.map(abs)
        for k in steps.indices {
            let (delta, magnitude) = deltaRow(step: k, row: row)
            guard let dora = steps[k].magnitude else {
                for j in 0..<columns {
                    values[j] += delta[j]
                    scale[j] += magnitude[j]
                }
                continue
            }
            var rowNorm = 0.0
            if steps[k].factorPerRow {
                var sum = 0.0
                for j in 0..<columns { let v = w[j] + delta[j]; sum += v * v }
                rowNorm = sum.squareRoot()
            }
            for j in 0..<columns {
                let norm = steps[k].factorPerRow ? rowNorm : (columnNorms[k]?[j] ?? .nan)
                let index = steps[k].factorPerRow ? row : j
                let factor = index < dora.values.count ? dora.values[index] / (norm + dora.epsilon) : .nan
                values[j] = factor * (values[j] + delta[j])
                scale[j] = abs(factor) * (scale[j] + magnitude[j])
            }
        }
        for step in biasSteps where step.values.count == columns {
            for j in 0..<columns {
                let term = step.factor * step.values[j]
                values[j] += term
                scale[j] += abs(term)
            }
        }
        return (values, scale)
    }
}
