import CheckpointCore
import CheckpointFormats

/// The sidecar of `ckpt merge --residual`: everything needed to turn the merged checkpoint back into
/// the base bit for bit. It is an ordinary safetensors file (written through the normal writer, so
/// `.zst` compression applies when that output is available), holding:
/// - `residual.<tensor>`: per element, the base's bit pattern minus the bit pattern `ckpt unmerge`
///   computes without the residual, as a wrapping integer of the dtype's width (i8/i16/i32/i64).
///   Nearly all entries are 0 or ±1, so the file compresses to a small fraction;
/// - `dora_norm.<k>.<tensor>`: the f64 norms ‖W + ΔW_k‖ of DoRA step k, which unmerge divides by;
/// - `original.<tensor>`: a base tensor that `modules_to_save` replaced, as it was; or the blocks of a
///   quantized base tensor (as u8: quantizing back loses more than rounding bits, so only the original
///   blocks restore it exactly), its ggml type under `quantized` in the metadata;
/// and in its metadata the format, the adapter count and weights, and tensors added by `--untie`.
public enum ResidualFile {
    static let formatKey = "format"
    static let formatValue = "ckpt-merge-residual-1"

    static func integerType(width: Int) -> DType {
        switch width {
        case 1: return .i8
        case 2: return .i16
        case 4: return .i32
        default: return .i64
        }
    }

    /// Writes the residual of a finished merge. `merged` is the merge's output, opened for reading.
    static func write(to target: OutputTarget, overwrite: Bool, base: any CheckpointReader, merged: any CheckpointReader,
                      plan: MergePlan, weights: [Double], threads: Int) throws -> [String] {
        var infos: [TensorInfo] = []
        enum Job { case residual(MergePlan.Target), norm(MergePlan.Target, step: Int), original(Int) }
        var jobs: [Job] = []
        let addedNames = Set(plan.added)
        var quantized: [JSONMember] = []
        for output in plan.targets.keys.sorted() {
            guard let target = plan.targets[output] else { continue }
            let info = plan.outputs[output]
            guard !addedNames.contains(info.name) else { continue }
            let original = base.tensors[target.source]
            if original.dtype.isBlockQuantized {
                infos.append(try TensorInfo(name: "original." + info.name, dtype: .u8, shape: [original.byteCount]))
                quantized.append(JSONMember(info.name, .string(original.dtype.userName)))
                jobs.append(.original(target.source))
                continue
            }
            if target.replacement != nil {
                infos.append(original.renamed("original." + info.name))
                jobs.append(.original(target.source))
                continue
            }
            infos.append(try TensorInfo(name: "residual." + info.name, dtype: integerType(width: info.dtype.bits / 8), shape: info.shape))
            jobs.append(.residual(target))
            let probe = try TensorMerge(target: target, info: info)
            for k in probe.doraSteps {
                let count = probe.steps[k].factorPerRow ? probe.rows : probe.columns
                infos.append(try TensorInfo(name: "dora_norm.\(k)." + info.name, dtype: .f64, shape: [count]))
                jobs.append(.norm(target, step: k))
            }
        }
        let metadata: [(key: String, value: String)] = [
            (formatKey, formatValue),
            ("adapters", String(weights.count)),
            ("weights", JSONEmitter(style: .compact).text(.array(weights.map { .number(String($0)) }))),
            ("added", JSONEmitter(style: .compact).text(.array(plan.added.map { .string($0) }))),
            ("quantized", JSONEmitter(style: .compact).text(.object(quantized))),
        ]
        let writer = try target.makeWriter(metadata: metadata, tensors: infos, overwrite: overwrite)
        let mergedIndex = Dictionary(merged.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        do {
            for position in writer.writeOrder {
                switch jobs[position] {
                case let .original(index):
                    try writer.write(try base.data(at: index).bytes)
                case let .norm(target, step):
                    var merge = try TensorMerge(target: target, info: plan.outputs[target.output])
                    try merge.computeNorms(source: RowSource(reader: base, index: target.source, columns: merge.columns))
                    let norms = merge.norms[step] ?? []
                    try norms.withUnsafeBytes { try writer.write($0) }
                case let .residual(target):
                    let info = plan.outputs[target.output]
                    guard let mergedAt = mergedIndex[info.name], merged.tensors[mergedAt].shape == info.shape, merged.tensors[mergedAt].dtype == info.dtype else {
                        throw SurgeryError.residual(path: merged.path, message: "the merged output lacks \(info.name) as written")
                    }
                    var merge = try TensorMerge(target: target, info: info)
                    merge.threads = threads
                    try merge.computeNorms(source: RowSource(reader: base, index: target.source, columns: merge.columns))
                    let width = info.dtype.bits / 8
                    var element = 0
                    let baseSource = RawSource(reader: base, index: target.source)
                    _ = try merge.run(.unmerge, source: RowSource(reader: merged, index: mergedAt, columns: merge.columns)) { chunk in
                        let original = try baseSource.bytes(at: element * width, count: chunk.count)
                        let difference = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunk.count, 1), alignment: 64)
                        defer { difference.deallocate() }
                        original.withUnsafeBytes { BitDifference.subtract($0, chunk, width: width, into: difference) }
                        try writer.write(UnsafeRawBufferPointer(rebasing: difference[0..<chunk.count]))
                        element += chunk.count / width
                    }
                }
            }
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
        return writer.outputPaths
    }

    /// A residual file opened for `ckpt unmerge --residual`.
    struct Opened {
        let reader: any CheckpointReader
        let byName: [String: Int]
        let added: Set<String>
        /// Tensors whose quantized base blocks are stored whole, with their ggml type.
        let quantized: [String: DType]

        init(path: String, adapterCount: Int, weights: [Double]) throws {
            reader = try Checkpoint.open(path)
            let metadata = reader.metadata.safetensors ?? []
            func value(_ key: String) -> String? { metadata.first { $0.key == key }?.value }
            guard value(ResidualFile.formatKey) == ResidualFile.formatValue else {
                throw SurgeryError.residual(path: path, message: "not a residual file of `ckpt merge --residual` (metadata format is \(value(ResidualFile.formatKey) ?? "missing"))")
            }
            guard value("adapters") == String(adapterCount) else {
                throw SurgeryError.residual(path: path, message: "written for \(value("adapters") ?? "?") adapter(s), but \(adapterCount) given; pass the adapters of the merge, in the same order")
            }
            let expected = JSONEmitter(style: .compact).text(.array(weights.map { .number(String($0)) }))
            guard value("weights") == expected else {
                throw SurgeryError.residual(path: path, message: "written for weights \(value("weights") ?? "?"), but \(expected) given; pass the same --weight values as the merge")
            }
            var names: Set<String> = []
            if let text = value("added"), case let .array(items)? = try? JSONParser.parse(Array(text.utf8)) {
                names = Set(items.compactMap(\.stringValue))
            }
            added = names
            var types: [String: DType] = [:]
            if let text = value("quantized"), case let .object(members)? = try? JSONParser.parse(Array(text.utf8)) {
                for member in members {
                    guard let name = member.value.stringValue, let dtype = DType(userName: name), dtype.isBlockQuantized else {
                        throw SurgeryError.residual(path: path, message: "metadata 'quantized' names \(member.key) as '\(member.value.stringValue ?? "?")', not a ggml block type")
                    }
                    types[member.key] = dtype
                }
            }
            quantized = types
            byName = Dictionary(reader.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        }

        func norms(step: Int, tensor: String) throws -> [Double]? {
            guard let index = byName["dora_norm.\(step).\(tensor)"] else { return nil }
            let info = reader.tensors[index]
            guard info.dtype == .f64 else { throw SurgeryError.residual(path: reader.path, message: "dora_norm.\(step).\(tensor) is \(info.dtype.userName), expected f64") }
            let data = try reader.data(at: index)
            return (0..<info.elementCount).map { data.bytes.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self) }
        }

        /// Adds the stored bit differences of `tensor` at `element` to `bytes` (the recomputed base).
        func restore(tensor: String, element: Int, bytes: UnsafeMutableRawBufferPointer, width: Int, elementCount: Int) throws {
            guard let index = byName["residual." + tensor] else {
                throw SurgeryError.residual(path: reader.path, message: "no residual for \(tensor); was it written by the same merge?")
            }
            let info = reader.tensors[index]
            guard info.dtype == ResidualFile.integerType(width: width), info.elementCount == elementCount else {
                throw SurgeryError.residual(path: reader.path, message: "residual.\(tensor) is \(info.dtype.userName) \(info.shape), which does not fit the tensor")
            }
            let stored = try RawSource(reader: reader, index: index).bytes(at: element * width, count: bytes.count)
            stored.withUnsafeBytes { BitDifference.add($0, to: bytes, width: width) }
        }
    }
}

/// Reads a byte range of one tensor (`pread` when possible).
struct RawSource {
    let reader: any CheckpointReader
    let index: Int

    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        let info = reader.tensors[index]
        guard offset >= 0, count >= 0, offset <= info.byteCount - count else {
            throw SurgeryError.residual(path: reader.path, message: "range \(offset)+\(count) outside \(info.name)")
        }
        if let source = reader.source(of: index) {
            return try source.file.read(at: source.offset + offset, count: count)
        }
        let data = try reader.data(at: index)
        return Array(data.bytes[offset..<(offset + count)])
    }
}

/// Wrapping differences of little-endian bit patterns, element by element.
enum BitDifference {
    static func subtract(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, width: Int, into out: UnsafeMutableRawBufferPointer) {
        combine(a, b, width: width, into: out) { $0 &- $1 }
    }

    static func add(_ difference: UnsafeRawBufferPointer, to values: UnsafeMutableRawBufferPointer, width: Int) {
        let copy = UnsafeRawBufferPointer(values)
        combine(copy, difference, width: width, into: values) { $0 &+ $1 }
    }

    private static func combine(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, width: Int, into out: UnsafeMutableRawBufferPointer, _ op: (UInt64, UInt64) -> UInt64) {
        let count = min(a.count, b.count, out.count) / max(width, 1)
        let mask: UInt64 = width >= 8 ? .max : (1 << UInt64(width * 8)) - 1
        for i in 0..<count {
            var x: UInt64 = 0, y: UInt64 = 0
            for byte in 0..<width {
                x |= UInt64(a[i * width + byte]) << UInt64(8 * byte)
                y |= UInt64(b[i * width + byte]) << UInt64(8 * byte)
            }
            let result = op(x, y) & mask
            for byte in 0..<width { out[i * width + byte] = UInt8(truncatingIfNeeded: result >> UInt64(8 * byte)) }
        }
    }
}
