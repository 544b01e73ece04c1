import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Interrupting `ckpt merge` (with and without `--residual`) at random points: each destination is
/// absent, the previous file, or the complete new one — never a partial file under its final name.
@Suite(.serialized) struct MergeFaultInjectionTests {
    /// A 16 MB f32 base of two 1024×2048 projections and a PEFT LoRA of rank 8 on both: the merge
    /// takes about 0.3 s in a debug build, 1.5 s with --residual (CPU time).
    private func makeInputs(_ folder: String) throws -> (base: String, adapter: String) {
        let (rows, columns, rank) = (1024, 2048, 8)
        let modules = (0..<2).map { "model.layers.\($0).mlp.up_proj" }
        let base = folder + "/base.safetensors"
        try writeF32Tensors(base, modules.map { ($0 + ".weight", [rows, columns], 0.01) })
        let adapter = folder + "/lora"
        try FileManager.default.createDirectory(atPath: adapter, withIntermediateDirectories: true)
        try writeF32Tensors(adapter + "/adapter_model.safetensors", modules.flatMap { module in
            [("base_model.model." + module + ".lora_A.weight", [rank, columns], 0.003), ("base_model.model." + module + ".lora_B.weight", [rows, rank], 0.002)]
        })
        try Data(#"{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["up_proj"]}"#.utf8).write(to: URL(fileURLWithPath: adapter + "/adapter_config.json"))
        return (base, adapter)
    }

    private func temporaries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".ckpt-tmp-") }
    }

    private func contents(_ path: String) -> Data? { try? Data(contentsOf: URL(fileURLWithPath: path)) }

    private func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ckptBinary)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test(arguments: [false, true])
    func sigkillLeavesPreviousOrCompleteDestinations(residual: Bool) throws {
        let folder = try temporaryFolder("merge-kill")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (base, adapter) = try makeInputs(folder)
        let (output, residualPath) = (folder + "/out.safetensors", folder + "/out.residual.safetensors")
        let extra = residual ? ["--residual", residualPath] : []
        #expect(try ckpt(["merge", base, adapter, "-o", output, "--quiet"] + extra).status == 0)
        let complete = try #require(contents(output)), completeResidual = contents(residualPath)
        try writeF32Checkpoint(output, count: 4)
        try writeF32Checkpoint(residualPath, count: 8)
        let previous = try #require(contents(output)), previousResidual = try #require(contents(residualPath))
        var generator = SystemRandomNumberGenerator()
        var killed: [Int32] = []
        for _ in 0..<4 {
            let process = try start(["merge", base, adapter, "-o", output, "--force", "--quiet"] + extra)
            usleep(UInt32.random(in: 0...(residual ? 1_200_000 : 400_000), using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            killed.append(process.processIdentifier)
            let now = contents(output)
            #expect(now == previous || now == complete, "a partial file of \(now?.count ?? 0) bytes is under the final name")
            let nowResidual = contents(residualPath)
            #expect(nowResidual == previousResidual || (residual && nowResidual == completeResidual), "a partial residual of \(nowResidual?.count ?? 0) bytes")
            // Only killed runs' temporaries remain (the next run removes them).
            for name in temporaries(folder) {
                #expect(killed.contains { name.contains(".ckpt-tmp-\($0)-") }, "\(name) is not a killed run's")
            }
            try previous.write(to: URL(fileURLWithPath: output))
            try previousResidual.write(to: URL(fileURLWithPath: residualPath))
        }
        #expect(try ckpt(["merge", base, adapter, "-o", output, "--force", "--quiet"] + extra).status == 0)
        #expect(temporaries(folder).isEmpty)
        #expect(contents(output) == complete)
        if residual { #expect(contents(residualPath) == completeResidual) }
    }

    /// SIGTERM is caught: exit status 143 (or 0 when done first), no temporary file, and each output
    /// either absent or complete (the merged file is committed before the residual is written).
    @Test(arguments: [false, true])
    func sigtermRemovesTemporaries(residual: Bool) throws {
        let folder = try temporaryFolder("merge-term")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (base, adapter) = try makeInputs(folder)
        let (output, residualPath) = (folder + "/out.safetensors", folder + "/out.residual.safetensors")
        let extra = residual ? ["--residual", residualPath] : []
        #expect(try ckpt(["merge", base, adapter, "-o", output, "--quiet"] + extra).status == 0)
        let complete = contents(output), completeResidual = contents(residualPath)
        var interrupted = 0
        for delay: UInt32 in [50_000, 200_000, 500_000] {
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: residualPath)
            let process = try start(["merge", base, adapter, "-o", output, "--quiet"] + extra)
            usleep(delay)
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 143 || process.terminationStatus == 0)
            if process.terminationStatus == 143 { interrupted += 1 }
            #expect(temporaries(folder).isEmpty)
            let now = contents(output), nowResidual = contents(residualPath)
            #expect(now == nil || now == complete)
            #expect(nowResidual == nil || nowResidual == completeResidual)
            if process.terminationStatus == 0 { #expect(now == complete && nowResidual == completeResidual) }
        }
        #expect(interrupted > 0, "every run finished before its SIGTERM")
    }
}

/// A safetensors file of F32 tensors, each filled with `value · ((i % 97) − 48)`.
func writeF32Tensors(_ path: String, _ tensors: [(String, [Int], Float)]) throws {
    var entries: [String] = []
    var offset = 0
    for (name, shape, _) in tensors {
        let size = shape.reduce(1, *) * 4
        entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}")
        offset += size
    }
    var header = Array("{\(entries.joined(separator: ","))}".utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var length = UInt64(header.count).littleEndian
    var data = Data(bytes: &length, count: 8)
    data.append(contentsOf: header)
    for (_, shape, value) in tensors {
        let values = (0..<shape.reduce(1, *)).map { Float($0 % 97 - 48) * value }
        values.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    try data.write(to: URL(fileURLWithPath: path))
}
