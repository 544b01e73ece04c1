import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
import CKernels
import Dispatch

/// Computes one changed tensor of a merge or an unmerge, a block of rows at a time.
///
/// The tensor is viewed as 2-D (first dimension × the rest). Each row: decode the input row exactly
/// into Double, form each adapter's Δ row as PEFT does (Float32 fma products from `LowRankRows`, times
/// the scale, rounded to Float32), apply the steps in adapter order (merge) or in reverse (unmerge), then round once into
/// the output dtype. DoRA factors m / ‖W + ΔW‖ come from a first pass over the base (merge) or from
/// the residual file (unmerge).
struct TensorMerge {
    enum Direction { case merge, unmerge }

    struct Product {
        var rows: LowRankRows
        /// weight × scale rounded to Float32, as PyTorch multiplies a Float32 tensor by a Python float.
        var scale: Float
        var rowOffset: Int
        var columnOffset: Int
    }

    /// One step, prepared: its products in storage orientation and its DoRA factor axis.
    struct PreparedStep {
        var products: [Product]
        var magnitude: ModuleDelta.Magnitude?
        /// True when the DoRA norm runs along stored rows (one factor per stored row).
        var factorPerRow: Bool
    }

    let info: TensorInfo
    let module: String
    let rows: Int
    let columns: Int
    let steps: [PreparedStep]
    let biasSteps: [MergePlan.BiasStep]
    /// Per DoRA step (index into `steps`): the norms ‖W + ΔW_k‖ along its axis.
    var norms: [Int: [Double]] = [:]
    var threads = 1
    /// Block buffers lent by the caller for reuse across tensors (else made for this tensor).
    var buffers: MergeBuffers?

    init(target: MergePlan.Target, info: TensorInfo) throws {
        self.info = info
        module = target.module
        (rows, columns) = Self.matrixShape(info)
        steps = try target.steps.map { step in
            let products = try step.delta.storedProducts().map { Product(rows: $0.rows, scale: Float($0.scale * step.weight), rowOffset: $0.rowOffset, columnOffset: $0.columnOffset) }
            return PreparedStep(products: products, magnitude: step.delta.magnitude, factorPerRow: step.delta.doraFactorPerStoredRow)
        }
        biasSteps = target.biasSteps
    }

    /// The tensor viewed as a matrix: first dimension × the rest (a vector or scalar is one row).
    static func matrixShape(_ info: TensorInfo) -> (rows: Int, columns: Int) {
        let rows = info.shape.isEmpty ? 1 : (info.shape.count == 1 ? 1 : info.shape[0])
        let columns = info.shape.isEmpty ? 1 : (info.shape.count == 1 ? info.shape[0] : info.elementCount / max(info.shape[0], 1))
        return (rows, columns)
    }

    var doraSteps: [Int] { steps.indices.filter { steps[$0].magnitude != nil } }

    /// Δ row `row` of step `step` (scaled) into `delta` (length `columns`), using `scratch`.
    func deltaRow(step: Int, row: Int, delta: UnsafeMutableBufferPointer<Double>, scratch: UnsafeMutablePointer<Float>) {
        guard let base = delta.baseAddress else { return }
        base.initialize(repeating: 0, count: columns)
        for product in steps[step].products where row >= product.rowOffset && row < product.rowOffset + product.rows.rows {
            product.rows.row(row - product.rowOffset, into: scratch)
            let n = product.rows.columns
            // ΔW = Float32(P · s), PEFT's order: the product, then the scale, rounded once to Float32.
            let scale = product.scale
            let target = base + product.columnOffset
            for j in 0..<n { target[j] += Double(scratch[j] * scale) }
        }
    }

    /// DoRA factors of step `step` from its norms.
    func factors(step: Int) throws -> [Double] {
        guard let magnitude = steps[step].magnitude, let norm = norms[step], norm.count == magnitude.values.count else {
            throw SurgeryError.residual(path: "", message: "DoRA norms missing for \(module)")
        }
        return zip(magnitude.values, norm).map { $0 / ($1 + magnitude.epsilon) }
    }

    /// First pass of a merge: ‖W + ΔW_k‖ for every DoRA step, from the base rows.
    mutating func computeNorms(source: RowSource) throws {
        let dora = doraSteps
        guard !dora.isEmpty else { return }
        var sums = dora.map { [Double](repeating: 0, count: steps[$0].factorPerRow ? rows : columns) }
        var base = [Double](repeating: 0, count: columns)
        var delta = [Double](repeating: 0, count: columns)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(columns, 1))
        defer { scratch.deallocate() }
        for row in 0..<rows {
            try base.withUnsafeMutableBufferPointer { try source.read(rows: row..<(row + 1), into: $0) }
            for (position, k) in dora.enumerated() {
                delta.withUnsafeMutableBufferPointer { deltaRow(step: k, row: row, delta: $0, scratch: scratch) }
                if steps[k].factorPerRow {
                    var sum = 0.0
                    for j in 0..<columns { let v = base[j] + delta[j]; sum += v * v }
                    sums[position][row] = sum
                } else {
                    for j in 0..<columns { let v = base[j] + delta[j]; sums[position][j] += v * v }
                }
            }
        }
        for (position, k) in dora.enumerated() { norms[k] = sums[position].map { $0.squareRoot() } }
    }

    /// Measures for the report: Σ W² and Σ (result − W)² over the tensor.
    struct Energy { var base = 0.0; var change = 0.0; var quantization = 0.0 }

    /// Runs the second pass: reads input rows from `source`, writes output bytes through `sink`
    /// in blocks of rows. Returns the energies (input, change).
    func run(_ direction: Direction, source: RowSource, blockBytes: Int = 8 << 20, sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Energy {
        if let single = singleFullProduct, doraSteps.isEmpty, biasSteps.isEmpty, [.f32, .bf16, .f16].contains(info.dtype),
           [.f32, .bf16, .f16].contains(source.reader.tensors[source.index].dtype) {
            return try runFused(direction, product: single, source: source, blockBytes: blockBytes, sink: sink)
        }
        let rowBytes = QuantizedMerge.rowBytes(info.dtype, columns: columns)
        let factorTables = try doraSteps.reduce(into: [Int: [Double]]()) { $0[$1] = try factors(step: $1) }
        let rowsPerBlock = max(1, min(rows, blockBytes / max(columns * 8, 1)))
        let input = UnsafeMutableBufferPointer<Double>.allocate(capacity: rowsPerBlock * columns)
        defer { input.deallocate() }
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: max(rowsPerBlock * rowBytes, 1), alignment: 64)
        defer { output.deallocate() }
        let workers = max(1, min(threads, rowsPerBlock))
        var energy = Energy()
        var start = 0
        while start < rows {
            let count = min(rowsPerBlock, rows - start)
            try source.read(rows: start..<(start + count), into: UnsafeMutableBufferPointer(rebasing: input[0..<(count * columns)]))
            let results = UnsafeMutableBufferPointer<(Energy, Int?, Error?)>.allocate(capacity: workers)
            results.initialize(repeating: (Energy(), nil, nil))
            defer { results.deallocate() }
            nonisolated(unsafe) let (inputs, outputs, slots) = (input, output, results)
            let first = start
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let per = (count + workers - 1) / workers
                let lower = worker * per, upper = min(count, lower + per)
                guard lower < upper else { return }
                slots[worker] = computeRows(direction, first: first, local: lower..<upper, inputs: inputs, outputs: outputs, factors: factorTables)
            }
            try collect(results, into: &energy)
            try sink(UnsafeRawBufferPointer(rebasing: output[0..<(count * rowBytes)]))
            start += count
        }
        return energy
    }

    /// One worker's rows of a block: the maths of the type's comment, on raw pointers (hot loop).
    private func computeRows(_ direction: Direction, first: Int, local: Range<Int>, inputs: UnsafeMutableBufferPointer<Double>,
                             outputs: UnsafeMutableRawBufferPointer, factors: [Int: [Double]]) -> (Energy, Int?, Error?) {
        let rowBytes = QuantizedMerge.rowBytes(info.dtype, columns: columns)
        let n = columns
        var energy = Energy()
        let delta = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
        let accumulator = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        defer { delta.deallocate(); accumulator.deallocate(); scratch.deallocate() }
        var encodeScratch: [Float] = []
        let order = direction == .merge ? Array(steps.indices) : Array(steps.indices.reversed())
        let sign = direction == .merge ? 1.0 : -1.0
        guard let inputBase = inputs.baseAddress else { return (energy, nil, nil) }
        for local in local {
            let row = first + local
            let w = inputBase + local * n
            accumulator.update(from: w, count: n)
            if direction == .unmerge { applyBias(accumulator, n, sign: -1) }
            for k in order {
                deltaRow(step: k, row: row, delta: UnsafeMutableBufferPointer(start: delta, count: n), scratch: scratch)
                if let table = factors[k] {
                    let perRow = steps[k].factorPerRow
                    table.withUnsafeBufferPointer { f in
                        for j in 0..<n {
                            let factor = perRow ? f[row] : f[j]
                            accumulator[j] = direction == .merge ? factor * (accumulator[j] + delta[j]) : accumulator[j] / factor - delta[j]
                        }
                    }
                } else {
                    for j in 0..<n { accumulator[j] += sign * delta[j] }
                }
            }
            if direction == .merge { applyBias(accumulator, n, sign: 1) }
            var baseEnergy = 0.0, changeEnergy = 0.0
            for j in 0..<n {
                let before = w[j], after = accumulator[j]
                if !after.isFinite && before.isFinite { return (energy, row * n + j, nil) }
                baseEnergy += before * before
                let change = after - before
                changeEnergy += change.isFinite ? change * change : 0
            }
            energy.base += baseEnergy
            energy.change += changeEnergy
            do {
                let target = UnsafeMutableRawBufferPointer(rebasing: outputs[(local * rowBytes)..<((local + 1) * rowBytes)])
                if info.dtype.isBlockQuantized {
                    energy.quantization += try QuantizedMerge.encode(UnsafeBufferPointer(start: accumulator, count: n), as: info.dtype, into: target)
                } else {
                    try Rounding.encode(UnsafeBufferPointer(start: accumulator, count: n), as: info.dtype, into: target, scratch: &encodeScratch)
                }
            } catch {
                return (energy, nil, error)
            }
        }
        return (energy, nil, nil)
    }

    /// Adds the workers' energies, or throws the first worker's failure.
    private func collect(_ results: UnsafeMutableBufferPointer<(Energy, Int?, Error?)>, into energy: inout Energy) throws {
        for slot in results {
            if let error = slot.2 { throw error }
            if let element = slot.1 { throw SurgeryError.nonFinite(tensor: info.name, module: module, element: element) }
            energy.base += slot.0.base
            energy.change += slot.0.change
            energy.quantization += slot.0.quantization
        }
    }

    /// The one product of a plain LoRA step covering the whole tensor, when that is all there is to do.
    private var singleFullProduct: Product? {
        guard steps.count == 1, let product = steps[0].products.first, steps[0].products.count == 1, steps[0].magnitude == nil,
              product.rowOffset == 0, product.columnOffset == 0, product.rows.columns == columns, product.rows.rows == rows else { return nil }
        return product
    }

    /// The common case (one plain LoRA product over the whole tensor of a f32/bf16/f16 base), fused
    /// in C per row with the same arithmetic as the general path: W ± Float32(P·s) formed exactly,
    /// checked, measured and rounded (to odd for 16-bit outputs), then encoded by the fast kernels.
    /// Blocks are written on a serial queue while the next one is computed (two output buffers).
    private func runFused(_ direction: Direction, product: Product, source: RowSource, blockBytes: Int,
                          sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Energy {
        try withoutActuallyEscaping(sink) { sink in
            let writes = BlockWrites(sink)
            defer { writes.drain() }
            let energy = try runFused(direction, product: product, source: source, blockBytes: blockBytes, writes: writes)
            try writes.finish()
            return energy
        }
    }

    private func runFused(_ direction: Direction, product: Product, source: RowSource, blockBytes: Int, writes: BlockWrites) throws -> Energy {
        let n = columns, width = info.dtype.bits / 8
        let inputDType = source.reader.tensors[source.index].dtype, inputWidth = inputDType.bits / 8
        // f32/bf16 rows go through the one-pass C kernel; f16 (either side) decodes and encodes apart.
        let kinds = (TensorMerge.rowKind(inputDType), TensorMerge.rowKind(info.dtype))
        let onePass = kinds.0 != nil && kinds.1 != nil
        let rowsPerBlock = max(1, min(rows, blockBytes / max(n * 4, 1)))
        let buffers = self.buffers ?? MergeBuffers()
        let raw = buffers.buffer(0, bytes: onePass ? rowsPerBlock * n * inputWidth : 0)
        let input = onePass ? nil : buffers.floats(1, count: rowsPerBlock * n)
        let outputBuffers = [buffers.buffer(2, bytes: rowsPerBlock * n * width), buffers.buffer(3, bytes: rowsPerBlock * n * width)]
        // Every write ends before the buffers are reused or freed, on success or error.
        defer { writes.waitQuietly() }
        // When the bytes are a plain file range the reader maps them: the kernel reads the rows in
        // place (page faults cost less than copying every byte out of the page cache with pread).
        let file = source.reader.source(of: source.index)
        // (Too few bytes, which no reader should return, go the pread way, which reports the range.)
        let mapped = try (onePass && file != nil ? source.reader.data(at: source.index) : nil).flatMap { $0.bytes.count >= rows * n * inputWidth ? $0 : nil }
        defer { withExtendedLifetime(mapped) {} }
        var blockIndex = 0
        let workers = max(1, min(threads, rowsPerBlock))
        let sign: Double = direction == .merge ? 1 : -1
        let toOdd: Int32 = info.dtype == .f32 ? 0 : 1
        var energy = Energy()
        var start = 0
        while start < rows {
            let count = min(rowsPerBlock, rows - start)
            let output = outputBuffers[blockIndex % 2]
            blockIndex += 1
            if let input {
                try source.readFloats(rows: start..<(start + count), into: UnsafeMutableBufferPointer(rebasing: input[0..<(count * n)]))
            } else if mapped == nil {
                try source.readBytes(rows: start..<(start + count), into: raw)
            }
            let inPlace = mapped.flatMap { $0.bytes.baseAddress }.map { UnsafeRawPointer($0) + start * n * inputWidth }
            let results = UnsafeMutableBufferPointer<(Energy, Int?, Error?)>.allocate(capacity: workers)
            results.initialize(repeating: (Energy(), nil, nil))
            defer { results.deallocate() }
            nonisolated(unsafe) let (inputs, raws, outputs, slots, inPlaceRows) = (input, raw, output, results, inPlace)
            let (first, dtype) = (start, info.dtype)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let per = (count + workers - 1) / workers
                let lower = worker * per, upper = min(count, lower + per)
                guard lower < upper else { return }
                var local = Energy()
                if let inRow = kinds.0, let outRow = kinds.1 {
                    guard let rawBase = inPlaceRows ?? raws.baseAddress.map({ UnsafeRawPointer($0) }), let outBase = outputs.baseAddress else { return }
                    let bad = product.rows.withFactors { u, r, v -> Int? in
                        let found = ckpt_merge_lowrank_rows(rawBase + lower * n * inputWidth, inRow, u + (first + lower) * r, Int32(r), v, n, product.scale, sign,
                                                            n, upper - lower, outBase + lower * n * width, outRow, &local.base, &local.change)
                        return found >= 0 ? (first + lower) * n + found : nil
                    }
                    slots[worker] = (local, bad, nil)
                    return
                }
                guard let base = inputs?.baseAddress else { return }
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
                let rounded = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
                defer { scratch.deallocate(); rounded.deallocate() }
                for position in lower..<upper {
                    let row = first + position
                    product.rows.row(row, into: scratch)
                    let bad = ckpt_merge_row(base + position * n, scratch, product.scale, sign, n, toOdd, rounded, &local.base, &local.change)
                    if bad >= 0 { slots[worker] = (local, row * n + bad, nil); return }
                    let target = UnsafeMutableRawBufferPointer(rebasing: outputs[(position * n * width)..<((position + 1) * n * width)])
                    do {
                        try ElementConverter.convert(UnsafeRawBufferPointer(start: rounded, count: n * 4), from: .f32, into: target, to: dtype, count: n)
                    } catch {
                        slots[worker] = (local, nil, error)
                        return
                    }
                }
                slots[worker] = (local, nil, nil)
            }
            try collect(results, into: &energy)
            // At most one write in flight: the previous block's, which used the other buffer.
            try writes.waitForPending()
            writes.submit(UnsafeRawBufferPointer(rebasing: output[0..<(count * n * width)]))
            start += count
        }
        return energy
    }

    /// The C kernel's layout code for a dtype it reads and writes in one pass, or nil.
    private static func rowKind(_ dtype: DType) -> Int32? {
        switch dtype {
        case .f32: Int32(CKPT_ROW_F32)
        case .bf16: Int32(CKPT_ROW_BF16)
        default: nil
        }
    }

    private func applyBias(_ values: UnsafeMutablePointer<Double>, _ count: Int, sign: Double) {
        for step in biasSteps where step.values.count == count {
            let factor = Double(Float(step.factor))
            for j in 0..<count { values[j] += sign * Double(Float(factor * step.values[j])) }
        }
    }
}
/// Writes blocks through a sink on a serial queue, one at a time, so that the caller computes the
/// next block meanwhile. The first failure is kept and reported by `waitForPending` / `finish`.
final class BlockWrites: @unchecked Sendable {
    /// Dropped by `drain`: the caller lends it through `withoutActuallyEscaping`, which checks that
    /// nothing holds it afterwards (a queued block may still retain this object for a moment).
    private var sink: ((UnsafeRawBufferPointer) throws -> Void)?
    private let queue = DispatchQueue(label: "ckpt.merge.writes")
    private let group = DispatchGroup()
    private var failure: Error?

    init(_ sink: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.sink = sink }

    /// Queues one write of `bytes`, which must stay valid until `waitQuietly` or `waitForPending`.
    func submit(_ bytes: UnsafeRawBufferPointer) {
        nonisolated(unsafe) let bytes = bytes
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
            guard failure == nil, let sink else { return }
            do { try sink(bytes) } catch { failure = error }
        }
    }

    /// Waits for the write in flight, then rethrows a failure of any write so far.
    func waitForPending() throws {
        group.wait()
        if let failure { throw failure }
    }

    func finish() throws { try waitForPending() }

    /// Waits for the write in flight without reporting its outcome (cleanup paths).
    func waitQuietly() { group.wait() }

    /// Waits for every write and lets go of the sink (also on error paths, so that no write
    /// outlives its buffer).
    func drain() {
        group.wait()
        queue.sync { sink = nil }
    }
}

/// Rows of a tensor decoded into Doubles (or Floats for f32/bf16/f16), read with `pread` when the
/// reader offers a file range.
struct RowSource {
    let reader: any CheckpointReader
    let index: Int
    let columns: Int

    /// Rows of a f32/bf16/f16 tensor as Floats (exact).
    func readFloats(rows: Range<Int>, into values: UnsafeMutableBufferPointer<Float>) throws {
        let info = reader.tensors[index]
        let width = info.dtype.bits / 8
        let count = rows.count * columns
        let offset = rows.lowerBound * columns * width
        try withBytes(offset: offset, count: count * width) { bytes in
            try ElementConverter.convert(bytes, from: info.dtype, into: UnsafeMutableRawBufferPointer(values), to: .f32, count: count)
        }
    }

    /// The stored bytes of `rows` (a f32/bf16/f16 tensor) copied to the start of `target`.
    func readBytes(rows: Range<Int>, into target: UnsafeMutableRawBufferPointer) throws {
        let width = reader.tensors[index].dtype.bits / 8
        let offset = rows.lowerBound * columns * width, count = rows.count * columns * width
        let destination = UnsafeMutableRawBufferPointer(rebasing: target[0..<count])
        if let source = reader.source(of: index) {
            try source.file.read(into: destination, at: source.offset + offset)
        } else {
            let data = try reader.data(at: index)
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: data.bytes[offset..<(offset + count)]))
        }
    }

    /// Calls `body` with `count` bytes of the tensor from `offset` (pread into a buffer, or mapped).
    private func withBytes(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let source = reader.source(of: index) {
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
            defer { raw.deallocate() }
            let target = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
            try source.file.read(into: target, at: source.offset + offset)
            try body(UnsafeRawBufferPointer(target))
        } else {
            let data = try reader.data(at: index)
            try body(UnsafeRawBufferPointer(rebasing: data.bytes[offset..<(offset + count)]))
        }
    }

    func read(rows: Range<Int>, into values: UnsafeMutableBufferPointer<Double>) throws {
        let info = reader.tensors[index]
        let count = rows.count * columns
        if info.dtype.isBlockQuantized {
            let rowBytes = QuantizedMerge.rowBytes(info.dtype, columns: columns)
            try withBytes(offset: rows.lowerBound * rowBytes, count: rows.count * rowBytes) { bytes in
                try QuantizedMerge.decode(bytes, as: info.dtype, count: count, into: values)
            }
            return
        }
        let width = info.dtype.bits / 8
        let offset = rows.lowerBound * columns * width
        if let source = reader.source(of: index) {
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count * width, 1), alignment: 64)
            defer { raw.deallocate() }
            try source.file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(count * width)]), at: source.offset + offset)
            try Rounding.decode(UnsafeRawBufferPointer(raw), as: info.dtype, count: count, into: values)
        } else {
            let data = try reader.data(at: index)
            try Rounding.decode(UnsafeRawBufferPointer(rebasing: data.bytes[offset..<(offset + count * width)]), as: info.dtype, count: count, into: values)
        }
    }
}
