import Foundation

/// The `ckpt` executable built for this test run (a sibling of the test bundle), or `CKPT_BINARY`.
let ckptBinary: String = {
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["CKPT_BINARY"] { candidates.append(explicit) }
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ckpt").path)
    var repository = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { repository.deleteLastPathComponent() }
    candidates.append(repository.appendingPathComponent(".build/debug/ckpt").path)
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates.last!
}()

let repositoryFixtures: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent("fixtures").path
}()

struct Run {
    var status: Int32
    var signaled: Bool
    var stdout: String
    var stderr: String
}

/// Runs ckpt with `arguments`, stdin closed, and collects its output. `environment` adds to or
/// overrides the test's own environment.
@discardableResult
func ckpt(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ckptBinary)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
               stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

func temporaryFolder(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "ckpt-cli-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A safetensors file with one F32 tensor of `count` elements, written by hand (header + data).
func writeF32Checkpoint(_ path: String, name: String = "w", count: Int) throws {
    var header = Array("{\"__metadata__\":{\"format\":\"pt\"},\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(count)],\"data_offsets\":[0,\(count * 4)]}}".utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var length = UInt64(header.count).littleEndian
    var data = Data(bytes: &length, count: 8)
    data.append(contentsOf: header)
    var values = [Float](repeating: 0, count: count)
    for index in 0..<count { values[index] = Float(index % 1000) * 0.25 }
    values.withUnsafeBytes { data.append(contentsOf: $0) }
    try data.write(to: URL(fileURLWithPath: path))
}

/// The first of `CKPT_PYTHON` and the project venv that imports `modules` (e.g. "gguf, numpy"), if any.
func pythonImporting(_ modules: String) -> String? {
    let candidates = [ProcessInfo.processInfo.environment["CKPT_PYTHON"], NSHomeDirectory() + "/.cache/ckpt/venv/bin/python"].compactMap { $0 }
    return candidates.first { candidate in
        guard FileManager.default.isExecutableFile(atPath: candidate) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: candidate)
        process.arguments = ["-c", "import " + modules]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
