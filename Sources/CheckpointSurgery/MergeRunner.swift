import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// Streams a merge or an unmerge: every output tensor in the writer's order, unchanged ones copied
/// in the kernel, changed ones computed by `TensorMerge` block by block.
struct MergeRunner {
    enum Item {
        /// Bytes of a reader's tensor as they are (base tensor untouched, or restored original).
        case copy(reader: any CheckpointReader, index: Int)
        /// Converted into the output dtype (modules_to_save).
        case convert(reader: any CheckpointReader, index: Int)
        case compute(MergePlan.Target, source: Int)
    }

    let input: any CheckpointReader
    let outputs: [TensorInfo]
    let items: [Item]
    let direction: TensorMerge.Direction
    var threads = 2
    /// Unmerge: DoRA norms of (step, target tensor), from the residual file.
    var storedNorms: ((Int, String) throws -> [Double]?)?
    /// Unmerge: adds the residual bits to the rounded result (tensor name, element offset, bytes).
    var restore: ((String, Int, UnsafeMutableRawBufferPointer) throws -> Void)?

    init(input: any CheckpointReader, outputs: [TensorInfo], items: [Item], direction: TensorMerge.Direction) {
        self.input = input
        self.outputs = outputs
        self.items = items
        self.direction = direction
    }

    /// Writes everything into `writer` and finishes it; on error the writer is aborted.
    func run(into writer: any CheckpointWriter, progress: ((Int, Int) -> Void)?) throws -> [TensorChange] {
        let total = outputs.reduce(0) { $0 + $1.byteCount }
        var done = 0
        var changes: [TensorChange] = []
        let buffers = MergeBuffers()
        do {
            for position in writer.writeOrder {
                let info = outputs[position]
                switch items[position] {
                case let .copy(reader, index):
                    reader.willRead(index)
                    defer { reader.didRead(index) }
                    if let source = reader.source(of: index) {
                        try writer.copy(from: source.file, offset: source.offset, count: source.count)
                    } else {
                        try writer.write(try reader.data(at: index).bytes)
                    }
                case let .convert(reader, index):
                    let data = try reader.data(at: index)
                    let buffer = OwnedBytes(count: info.byteCount)
                    try ElementConverter.convert(data.bytes, from: reader.tensors[index].dtype, into: buffer.bytes, to: info.dtype, count: info.elementCount)
                    try writer.write(UnsafeRawBufferPointer(buffer.bytes))
                case let .compute(target, source):
                    changes.append(try compute(target, source: source, info: info, writer: writer, buffers: buffers))
                }
                done += info.byteCount
                progress?(done, total)
            }
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
        return changes
    }

    private func compute(_ target: MergePlan.Target, source: Int, info: TensorInfo, writer: any CheckpointWriter, buffers: MergeBuffers) throws -> TensorChange {
        var merge = try TensorMerge(target: target, info: info)
        merge.threads = threads
        merge.buffers = buffers
        // A tensor the adapter replaces (saved layer weight) is the W its LoRA is added to.
        let replaced = direction == .merge ? target.replacement?.tensor : nil
        let rows = RowSource(reader: replaced?.reader ?? input, index: replaced?.index ?? source, columns: merge.columns)
        input.willRead(source)
        defer { input.didRead(source) }
        if direction == .merge {
            try merge.computeNorms(source: rows)
        } else {
            for k in merge.doraSteps {
                guard let norms = try storedNorms?(k, info.name) else {
                    throw SurgeryError.residual(path: "", message: "\(info.name) was merged with DoRA; undoing it needs the norms ‖W + ΔW‖ the merge used, which only the residual file of `ckpt merge --residual` holds. Pass --residual FILE")
                }
                merge.norms[k] = norms
            }
        }
        var offset = 0
        let width = info.dtype.bits / 8
        let energy = try merge.run(direction, source: rows) { chunk in
            if let restore {
                let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunk.count, 1), alignment: 64)
                defer { copy.deallocate() }
                copy.copyMemory(from: chunk)
                let bytes = UnsafeMutableRawBufferPointer(rebasing: copy[0..<chunk.count])
                try restore(info.name, offset, bytes)
                try writer.write(UnsafeRawBufferPointer(bytes))
            } else {
                try writer.write(chunk)
            }
            offset += chunk.count / max(width, 1)
        }
        var change = TensorChange(tensor: info.name, module: target.module, adapters: target.steps.map(\.adapter) + target.biasSteps.map(\.adapter),
                            rank: target.steps.reduce(0) { $0 + $1.delta.rank },
                            kind: target.biasSteps.isEmpty ? (target.steps.first.map { $0.delta.magnitude != nil ? "dora" : $0.delta.kind.rawValue } ?? "") : "lora_B.bias",
                            baseNorm: energy.base.squareRoot(), changeNorm: energy.change.squareRoot())
        if info.dtype.isBlockQuantized { change.requantizationNorm = energy.quantization.squareRoot() }
        return change
    }
}
