import CheckpointCore
import Dispatch

extension MergeJob {
    /// Forms every planned ΔW once (all rows of every low-rank product, on `threads` workers like the
    /// merge) and discards them: the arithmetic a merge cannot avoid, for the benchmark's baseline.
    /// Returns the elements produced.
    public func formAllDeltas() throws -> Int {
        var produced = 0
        for target in plan.targets.values {
            let merge = try TensorMerge(target: target, info: plan.outputs[target.output])
            for step in merge.steps.indices {
                let rows = merge.rows, workers = max(1, min(threads, rows))
                let prepared = merge
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    let per = (rows + workers - 1) / workers
                    // Four rows at a time, as the merge kernel forms them.
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(4 * prepared.columns, 1))
                    defer { scratch.deallocate() }
                    let mine = (worker * per)..<min(rows, (worker + 1) * per)
                    for product in prepared.steps[step].products {
                        let covered = mine.clamped(to: product.rowOffset..<(product.rowOffset + product.rows.rows))
                        var row = covered.lowerBound
                        while row < covered.upperBound {
                            let next = min(row + 4, covered.upperBound)
                            product.rows.rows((row - product.rowOffset)..<(next - product.rowOffset), into: scratch)
                            row = next
                        }
                    }
                }
                produced += merge.rows * merge.columns
            }
        }
        return produced
    }
}
