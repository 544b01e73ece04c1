#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import CheckpointFormats

/// What a merge or unmerge wrote.
public struct SurgeryOutcome: Sendable {
    public var outputs: [String]
    public var residualOutputs: [String]
    public var changes: [TensorChange]
}

/// `ckpt merge`: a base checkpoint plus adapters (each with a weight) into a new checkpoint.
public struct MergeJob {
    public let base: any CheckpointReader
    public let adapters: [Adapter]
    public let weights: [Double]
    public let plan: MergePlan
    /// Workers per changed tensor (rows are split among them).
    public var threads = max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))

    public init(basePath: String, adapters: [Adapter], weights: [Double], options: MergePlan.Options) throws {
        base = try Checkpoint.open(basePath)
        self.adapters = try GGUFBaseMapping.adapt(adapters, base: base, untie: options.untie)
        self.weights = weights
        plan = try MergePlan(base: base.tensors, basePath: basePath, adapters: self.adapters, weights: weights, options: options)
    }

    /// Memory the merge holds beyond the page cache: adapters' factors, two row blocks, DoRA norms.
    public var peakMemoryEstimate: Int {
        let factors = adapters.reduce(0) { total, adapter in
            total + adapter.deltas.reduce(0) { $0 + $1.blocks.reduce(0) { $0 + ($1.a.elements.count + $1.b.elements.count) * 4 } }
        }
        let largestFactors = plan.targets.values.map { $0.steps.reduce(0) { $0 + $1.delta.blocks.reduce(0) { $0 + ($1.a.elements.count + $1.b.elements.count) * 4 } } }.max() ?? 0
        let norms = plan.targets.values.filter(\.hasDoRA).map { plan.outputs[$0.output].shape.first ?? 0 }.max() ?? 0
        return factors + largestFactors + (8 << 20) * 2 + norms * 16 + threads * 64 << 10
    }

    /// Bytes the residual file takes uncompressed (one integer per changed element, norms, originals).
    public var residualBytes: Int {
        plan.targets.values.reduce(0) { $0 + plan.outputs[$1.output].byteCount }
    }

    public func run(to target: OutputTarget, overwrite: Bool, residual: OutputTarget?, progress: ((Int, Int) -> Void)? = nil) throws -> SurgeryOutcome {
        var items: [MergeRunner.Item] = []
        for (output, source) in plan.sourceOfOutput.enumerated() {
            if let entry = plan.targets[output] {
                if let replacement = entry.replacement, entry.steps.isEmpty, entry.biasSteps.isEmpty {
                    items.append(.convert(reader: replacement.tensor.reader, index: replacement.tensor.index))
                } else if entry.steps.isEmpty && entry.biasSteps.isEmpty {
                    items.append(.copy(reader: base, index: source))
                } else {
                    items.append(.compute(entry, source: source))
                }
            } else {
                items.append(.copy(reader: base, index: source))
            }
        }
        var runner = MergeRunner(input: base, outputs: plan.outputs, items: items, direction: .merge)
        runner.threads = threads
        let writer = try target.makeSurgeryWriter(source: base.metadata, tensors: plan.outputs, overwrite: overwrite)
        let changes = try runner.run(into: writer, progress: progress)
        var residualOutputs: [String] = []
        if let residual {
            let paths = writer.outputPaths
            // A split GGUF opens from its first part; shards from their folder.
            let merged = try Checkpoint.open(paths.count == 1 || target.storesBlockTypes ? paths[0] : Paths.folder(of: paths[0]))
            residualOutputs = try ResidualFile.write(to: residual, overwrite: overwrite, base: base, merged: merged, plan: plan, weights: weights, threads: threads)
        }
        return SurgeryOutcome(outputs: writer.outputPaths, residualOutputs: residualOutputs, changes: changes)
    }
}
