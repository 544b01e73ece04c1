import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
import Dispatch

/// `ckpt verify MERGED --against BASE ADAPTER…`: recomputes sampled rows of every tensor the merge
/// changes in float64 from the base and the adapters (the plan `MergeJob` builds: the same adapter
/// loading, module matching and scale rules as `ckpt merge`) and compares them with MERGED. Tensors
/// the merge leaves alone are compared byte for byte with the base on the same sampled rows.
public struct MergeCheck {
    public struct Options: Sendable {
        /// Rows checked per tensor (nil: every row).
        public var rowsPerTensor: Int?
        public var seed: UInt64
        /// Overrides the per-dtype limit (`MergeErrorMeasure.defaultLimit`).
        public var limit: Double?
        public var threads: Int

        public init(rowsPerTensor: Int? = 16, seed: UInt64 = 0, limit: Double? = nil, threads: Int = 1) {
            self.rowsPerTensor = rowsPerTensor
            self.seed = seed
            self.limit = limit
            self.threads = threads
        }
    }

    /// The comparison of one changed tensor.
    public struct TensorResult: Sendable {
        public var name: String
        public var dtype: DType
        public var rows: Int
        public var rowsChecked: Int
        public var measure: MergeErrorMeasure
        /// Largest error in the measure's unit, and where it is.
        public var maxError = 0.0
        public var worstRow = 0
        public var worstColumn = 0
        public var merged = 0.0
        public var expected = 0.0
        /// Largest |merged − expected| (expected: the float64 value, or the requantized one for block types).
        public var maxAbsError = 0.0
        public var limit: Double
        public var passed: Bool { maxError <= limit }
    }

    public struct Report: Sendable {
        public var changed: [TensorResult] = []
        /// Tensors the merge copies from the base whose sampled rows were compared.
        public var unchangedChecked = 0
        public var rowsPerTensor: Int?
        public var seed: UInt64
        public var problems: [VerificationProblem] = []
    }

    let job: MergeJob
    let merged: any CheckpointReader
    let options: Options

    public init(job: MergeJob, merged: any CheckpointReader, options: Options) {
        self.job = job
        self.merged = merged
        self.options = options
    }

    public func run(progress: ((Int, Int) -> Void)? = nil) throws -> Report {
        let plan = job.plan
        var report = Report(rowsPerTensor: options.rowsPerTensor, seed: options.seed)
        var mergedIndex: [[UInt8]: Int] = [:]
        for (index, info) in merged.tensors.enumerated() { mergedIndex[Array(info.name.utf8)] = index }
        var expectedNames = Set<[UInt8]>()
        for (output, info) in plan.outputs.enumerated() {
            progress?(output, plan.outputs.count)
            expectedNames.insert(Array(info.name.utf8))
            guard let index = mergedIndex[Array(info.name.utf8)] else {
                report.problems.append(.init(kind: .structure, subject: info.name, message: "missing from the merged checkpoint (the merge writes it)"))
                continue
            }
            let found = merged.tensors[index]
            guard found.dtype == info.dtype, found.shape == info.shape else {
                report.problems.append(.init(kind: .structure, subject: info.name, message: "is \(found.dtype.userName) \(found.shape) in the merged checkpoint; the merge writes \(info.dtype.userName) \(info.shape)"))
                continue
            }
            if let target = plan.targets[output], !(target.steps.isEmpty && target.biasSteps.isEmpty && target.replacement == nil) {
                let result = try compare(target: target, info: info, mergedIndex: index)
                if !result.passed {
                    let position = result.rows > 1 ? "row \(result.worstRow), column \(result.worstColumn)" : "element \(result.worstColumn)"
                    report.problems.append(.init(kind: .mismatch, subject: info.name, message: "\(position): \(Self.rounded(result.maxError)) \(result.measure.unit) (limit \(Self.rounded(result.limit))): merged \(result.merged), expected \(result.expected)"))
                }
                report.changed.append(result)
            } else {
                if let row = try firstDifferingRow(base: plan.sourceOfOutput[output], mergedIndex: index, info: info) {
                    report.problems.append(.init(kind: .mismatch, subject: info.name, message: "row \(row) differs from the base, and no adapter changes this tensor"))
                }
                report.unchangedChecked += 1
            }
        }
        for info in merged.tensors where !expectedNames.contains(Array(info.name.utf8)) {
            let hint = BaseNames.isOutputModule(String(info.name.split(separator: ".").dropLast().joined(separator: "."))) ? " (if the merge was made with --untie, pass --untie)" : ""
            report.problems.append(.init(kind: .structure, subject: info.name, message: "is not in the base and the merge does not add it" + hint))
        }
        progress?(plan.outputs.count, plan.outputs.count)
        return report
    }

    /// Two decimals for messages.
    public static func rounded(_ value: Double) -> Double { value.isFinite && abs(value) < 1e12 ? (value * 100).rounded() / 100 : value }

    /// The rows to check: all of them, or `rowsPerTensor` distinct rows drawn with a generator seeded by
    /// the seed and the tensor's name (Floyd's algorithm), ascending.
    func sampledRows(_ rows: Int, name: String) -> [Int] {
        guard let count = options.rowsPerTensor, count < rows else { return Array(0..<rows) }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var generator = SplitMix64(seed: options.seed ^ hash)
        var chosen = Set<Int>()
        for upper in (rows - count)..<rows {
            let pick = Int.random(in: 0...upper, using: &generator)
            chosen.insert(chosen.contains(pick) ? upper : pick)
        }
        return chosen.sorted()
    }

    private func compare(target: MergePlan.Target, info: TensorInfo, mergedIndex: Int) throws -> TensorResult {
        var reference = try MergeReference(target: target, info: info, base: job.base)
        guard let measure = MergeErrorMeasure(dtype: info.dtype) else {
            throw SurgeryError.notFloat(tensor: info.name, dtype: info.dtype)
        }
        try reference.prepareColumnNorms()
        let rows = sampledRows(reference.rows, name: info.name)
        var result = TensorResult(name: info.name, dtype: info.dtype, rows: reference.rows, rowsChecked: rows.count, measure: measure,
                                  limit: options.limit ?? MergeErrorMeasure.defaultLimit(info.dtype))
        let mergedRows = RowSource(reader: merged, index: mergedIndex, columns: reference.columns)
        let workers = max(1, min(options.threads, rows.count))
        let slots = UnsafeMutableBufferPointer<Result<TensorResult, Error>?>.allocate(capacity: workers)
        slots.initialize(repeating: nil)
        defer { slots.deallocate() }
        nonisolated(unsafe) let shared = slots
        let start = result, frozen = reference
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            shared[worker] = Result {
                var local = start
                var index = worker
                while index < rows.count {
                    try Self.check(row: rows[index], reference: frozen, merged: mergedRows, dtype: info.dtype, into: &local)
                    index += workers
                }
                return local
            }
        }
        for slot in slots {
            guard let local = try slot?.get() else { continue }
            if local.maxError > result.maxError || (local.maxError.isNaN && !result.maxError.isNaN) {
                (result.maxError, result.worstRow, result.worstColumn, result.merged, result.expected) = (local.maxError, local.worstRow, local.worstColumn, local.merged, local.expected)
            }
            result.maxAbsError = max(result.maxAbsError, local.maxAbsError)
        }
        return result
    }

    /// Compares one row and folds it into `result`.
    private static func check(row: Int, reference: MergeReference, merged: RowSource, dtype: DType, into result: inout TensorResult) throws {
        let n = reference.columns
        var w = [Double](repeating: 0, count: n), got = [Double](repeating: 0, count: n)
        try w.withUnsafeMutableBufferPointer { try reference.source.read(rows: row..<(row + 1), into: $0) }
        try got.withUnsafeMutableBufferPointer { try merged.read(rows: row..<(row + 1), into: $0) }
        var (expected, scale) = reference.row(row, w: w)
        if dtype.isBlockQuantized {
            expected = try requantized(expected, as: dtype)
        }
        let errors = result.measure.errors(merged: got, expected: expected, scale: scale)
        for j in 0..<n {
            result.maxAbsError = max(result.maxAbsError, MergeErrorMeasure.difference(got[j], expected[j]))
            if errors[j] > result.maxError || (errors[j].isNaN && !result.maxError.isNaN) {
                (result.maxError, result.worstRow, result.worstColumn, result.merged, result.expected) = (errors[j], row, j, got[j], expected[j])
            }
        }
    }

    /// The float64 row as the merge's quantized path would store it: rounded to Float32, quantized
    /// with ggml's reference quantizer of `dtype`, dequantized.
    private static func requantized(_ values: [Double], as dtype: DType) throws -> [Double] {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(QuantizedMerge.rowBytes(dtype, columns: values.count), 1), alignment: 64)
        defer { bytes.deallocate() }
        let target = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<QuantizedMerge.rowBytes(dtype, columns: values.count)])
        _ = try values.withUnsafeBufferPointer { try QuantizedMerge.encode($0, as: dtype, into: target) }
        var result = [Double](repeating: 0, count: values.count)
        try result.withUnsafeMutableBufferPointer { try QuantizedMerge.decode(UnsafeRawBufferPointer(target), as: dtype, count: values.count, into: $0) }
        return result
    }

    /// The first sampled row whose bytes differ between the base tensor and the merged one.
    private func firstDifferingRow(base index: Int, mergedIndex: Int, info: TensorInfo) throws -> Int? {
        let (rows, columns) = TensorMerge.matrixShape(info)
        let rowBytes = info.dtype.isBlockQuantized ? QuantizedMerge.rowBytes(info.dtype, columns: columns) : info.byteCount / max(rows, 1)
        // Packed sub-byte types may not split into whole-byte rows: compare those whole.
        let (count, stride) = rowBytes * rows == info.byteCount ? (rows, rowBytes) : (1, info.byteCount)
        guard stride > 0 else { return nil }
        let a = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64), b = UnsafeMutableRawBufferPointer.allocate(byteCount: stride, alignment: 64)
        defer { a.deallocate(); b.deallocate() }
        for row in sampledRows(count, name: info.name) {
            try Self.readBytes(job.base, index, offset: row * stride, into: a)
            try Self.readBytes(merged, mergedIndex, offset: row * stride, into: b)
            if !a.elementsEqual(b) { return row }
        }
        return nil
    }

    private static func readBytes(_ reader: any CheckpointReader, _ index: Int, offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        if let source = reader.source(of: index) {
            try source.file.read(into: buffer, at: source.offset + offset)
        } else {
            let data = try reader.data(at: index)
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: data.bytes[offset..<(offset + buffer.count)]))
        }
    }
}
