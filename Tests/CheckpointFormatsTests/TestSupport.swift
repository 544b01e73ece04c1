import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// The repository's `fixtures/` folder.
let fixturesFolder: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("fixtures").path
}()

/// A fresh temporary folder, removed by the caller's `defer { try? FileManager.default.removeItem(atPath:) }`.
func makeTemporaryFolder(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "ckpt-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Writes `tensors` (name, dtype, shape, raw bytes) with our writer, supplying bytes in its order.
func writeSafeTensors(_ path: String, metadata: [(key: String, value: String)]?, _ tensors: [(TensorInfo, [UInt8])], overwrite: Bool = false) throws {
    let writer = try SafeTensorsWriter(destination: path, metadata: metadata, tensors: tensors.map(\.0), overwrite: overwrite)
    for index in writer.writeOrder {
        try tensors[index].1.withUnsafeBytes { try writer.write($0) }
    }
    try writer.finish()
}

func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

func floats(_ values: [Float]) -> [UInt8] { le(values.map(\.bitPattern)) }

/// Runs the fixture helper script with the project's Python, when one with `safetensors` is available.
/// Returns nil (and the test skips) when it is not.
func pythonWithSafetensors() -> String? {
    let candidates = [ProcessInfo.processInfo.environment["CKPT_PYTHON"], "/root/venvs/ckpt/bin/python", "python3"].compactMap { $0 }
    for candidate in candidates {
        if let result = try? runProcess(candidate, ["-c", "import safetensors, numpy"]), result.status == 0 { return candidate }
    }
    return nil
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

func runProcess(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
    let process = Process()
    if executable.contains("/") {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
    } else {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}
