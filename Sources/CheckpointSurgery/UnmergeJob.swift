#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import CheckpointFormats

/// `ckpt unmerge`: subtracts the same adapters from a merged checkpoint; with the residual file of
/// the merge, the result is the base bit for bit.
public struct UnmergeJob {
    public let merged: any CheckpointReader
    public let adapters: [Adapter]
    public let weights: [Double]
    public let plan: MergePlan
    public var threads = max(1, min(8, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
    let residual: ResidualFile.Opened?

    public init(mergedPath: String, adapters: [Adapter], weights: [Double], options: MergePlan.Options, residualPath: String?) throws {
        merged = try Checkpoint.open(mergedPath)
        self.adapters = try GGUFBaseMapping.adapt(adapters, base: merged, untie: options.untie)
        self.weights = weights
        plan = try MergePlan(base: merged.tensors, basePath: mergedPath, adapters: self.adapters, weights: weights, options: options)
        residual = try residualPath.map { try ResidualFile.Opened(path: $0, adapterCount: adapters.count, weights: weights) }
    }

    public func run(to target: OutputTarget, overwrite: Bool, progress: ((Int, Int) -> Void)? = nil) throws -> SurgeryOutcome {
        var items: [MergeRunner.Item] = []
        var outputs: [TensorInfo] = []
        for (output, source) in plan.sourceOfOutput.enumerated() {
            var info = plan.outputs[output]
            if residual?.added.contains(info.name) == true { continue }
            guard let entry = plan.targets[output] else {
                outputs.append(info)
                items.append(.copy(reader: merged, index: source))
                continue
            }
            if let residual, let dtype = residual.quantized[info.name] {
                // A quantized base tensor: its original blocks, in its own type (the merge may have
                // written it unquantized with --requant-fallback).
                info = try info.with(dtype: dtype)
                guard let index = residual.byName["original." + info.name], residual.reader.tensors[index].byteCount == info.byteCount else {
                    throw SurgeryError.residual(path: residual.reader.path, message: "the original \(dtype.userName) blocks of \(info.name) are missing or of the wrong size; was it written by the same merge?")
                }
                outputs.append(info)
                items.append(.copy(reader: residual.reader, index: index))
                continue
            }
            outputs.append(info)
            if entry.replacement != nil {
                guard let residual, let index = residual.byName["original." + info.name] else {
                    throw SurgeryError.residual(path: residual?.reader.path ?? "", message: "\(info.name) was replaced by the adapter (modules_to_save); the base's tensor is only kept in the residual file of `ckpt merge --residual`. Pass --residual FILE")
                }
                items.append(.copy(reader: residual.reader, index: index))
            } else {
                items.append(.compute(entry, source: source))
            }
        }
        var runner = MergeRunner(input: merged, outputs: outputs, items: items, direction: .unmerge)
        runner.threads = threads
        if let residual {
            runner.storedNorms = { step, tensor in try residual.norms(step: step, tensor: tensor) }
            let byName = Dictionary(outputs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            runner.restore = { tensor, element, bytes in
                guard let info = byName[tensor] else { return }
                try residual.restore(tensor: tensor, element: element, bytes: bytes, width: info.dtype.bits / 8, elementCount: info.elementCount)
            }
        }
        let writer = try target.makeSurgeryWriter(source: merged.metadata, tensors: outputs, overwrite: overwrite)
        let changes = try runner.run(into: writer, progress: progress)
        return SurgeryOutcome(outputs: writer.outputPaths, residualOutputs: [], changes: changes)
    }
}
