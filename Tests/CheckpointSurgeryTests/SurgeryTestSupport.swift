import Foundation
import CheckpointCore
import CheckpointFormats
@testable import CheckpointSurgery

let surgeryFixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("fixtures/surgery").path
}()

func fixture(_ name: String) -> String { surgeryFixtures + "/" + name }

func makeTemporaryFolder(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "ckpt-surgery-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Every tensor of a checkpoint as Doubles (exact for every float dtype), with its dtype and shape.
struct LoadedTensors {
    var values: [String: [Double]] = [:]
    var infos: [String: TensorInfo] = [:]
    var raw: [String: [UInt8]] = [:]

    init(_ path: String) throws {
        let reader = try Checkpoint.open(path)
        for (index, info) in reader.tensors.enumerated() {
            let data = try reader.data(at: index)
            raw[info.name] = Array(data.bytes)
            infos[info.name] = info
            guard info.dtype.isFloatingPoint else { continue }
            var doubles = [Double](repeating: 0, count: info.elementCount)
            try doubles.withUnsafeMutableBytes { try ElementConverter.convert(data.bytes, from: info.dtype, into: $0, to: .f64, count: info.elementCount) }
            values[info.name] = doubles
        }
    }

    func callAsFunction(_ name: String) throws -> [Double] {
        guard let v = values[name] else { throw FixtureError(message: "no tensor \(name)") }
        return v
    }
}

struct FixtureError: Error { let message: String }

/// The distance of the unit in the last place at magnitude `x` for a float type with `bits`
/// significand bits (24 for f32, 8 for bf16, 11 for f16), normal range.
func ulp(at x: Double, significandBits: Int) -> Double {
    guard x > 0 else { return Double.leastNonzeroMagnitude }
    return Double(sign: .plus, exponent: x.exponent - (significandBits - 1), significand: 1)
}

func significandBits(_ dtype: DType) -> Int {
    switch dtype {
    case .f32: return 24
    case .bf16: return 8
    case .f16: return 11
    default: return 53
    }
}

/// Runs a merge into a temporary file and returns the output path.
func merge(base: String, adapters: [String], weights: [Double]? = nil, options: MergePlan.Options = .init(), residual: String? = nil,
           into folder: String, name: String = "merged.safetensors", meloraScale: Double? = nil) throws -> (path: String, outcome: SurgeryOutcome) {
    let loaded = try adapters.map { try Adapter.load(path: $0, meloraScale: meloraScale) }
    let job = try MergeJob(basePath: base, adapters: loaded, weights: weights ?? loaded.map { _ in 1 }, options: options)
    let output = folder + "/" + name
    let outcome = try job.run(to: .safetensors(path: output), overwrite: true, residual: residual.map { .safetensors(path: $0) })
    return (output, outcome)
}

func unmerge(merged: String, adapters: [String], weights: [Double]? = nil, residual: String?, into path: String) throws -> SurgeryOutcome {
    let loaded = try adapters.map { try Adapter.load(path: $0) }
    let job = try UnmergeJob(mergedPath: merged, adapters: loaded, weights: weights ?? loaded.map { _ in 1 }, options: .init(), residualPath: residual)
    return try job.run(to: .safetensors(path: path), overwrite: true)
}

/// Writes a safetensors file of F32 tensors (row-major values).
func writeF32(_ path: String, _ tensors: [(String, [Int], [Float])], metadata: [(key: String, value: String)]? = nil) throws {
    let infos = try tensors.map { try TensorInfo(name: $0.0, dtype: .f32, shape: $0.1) }
    let writer = try SafeTensorsWriter(destination: path, metadata: metadata, tensors: infos, overwrite: true)
    for index in writer.writeOrder {
        try tensors[index].2.withUnsafeBytes { try writer.write($0) }
    }
    try writer.finish()
}
