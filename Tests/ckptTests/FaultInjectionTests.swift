import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Interrupting, starving and sabotaging `ckpt convert`: whatever happens, the destination is either
/// absent, the previous file, or the complete new one — never a partial file under the final name.
@Suite(.serialized) struct FaultInjectionTests {
    /// A 64 MB f32 checkpoint of 8 tensors (non-zero values) whose bf16 conversion takes about a second.
    private func makeInput(_ folder: String) throws -> String {
        let path = folder + "/in.safetensors"
        try writeF32Checkpoint(path, count: 16 << 20)
        return path
    }

    private func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ckptBinary)
        process.arguments = arguments
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, err)
    }

    private func temporaries(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".ckpt-tmp-") }
    }

    /// SIGKILL cannot be caught: its temporary file may remain (named `.NAME.ckpt-tmp-PID-N`), but the
    /// final name only ever holds the previous file or the complete new one.
    @Test func sigkillLeavesPreviousOrCompleteDestination() throws {
        let folder = try temporaryFolder("fault-kill")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try makeInput(folder)
        let reference = folder + "/reference.safetensors"
        #expect(try ckpt(["convert", input, reference, "--dtype", "bf16", "--quiet"]).status == 0)
        let complete = try Data(contentsOf: URL(fileURLWithPath: reference))
        let output = folder + "/out.safetensors"
        try writeF32Checkpoint(output, count: 4)
        let previous = try Data(contentsOf: URL(fileURLWithPath: output))
        var generator = SystemRandomNumberGenerator()
        var outcomes: Set<String> = []
        var killed: [Int32] = []
        for _ in 0..<6 {
            let (process, _) = try start(["convert", input, output, "--dtype", "bf16", "--force", "--quiet"])
            usleep(UInt32.random(in: 0...1_200_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            killed.append(process.processIdentifier)
            let now = try Data(contentsOf: URL(fileURLWithPath: output))
            #expect(now == previous || now == complete, "a partial file of \(now.count) bytes is under the final name")
            outcomes.insert(now == complete ? "complete" : "previous")
            // At most one temporary file remains, of a killed run: each run removes those of earlier
            // killed runs before it creates its own, unless it was killed before getting that far.
            let left = temporaries(folder)
            #expect(left.count <= 1)
            for name in left {
                #expect(killed.contains { name.hasPrefix(".out.safetensors.ckpt-tmp-\($0)-") }, "\(name) is not a killed run's")
            }
            try previous.write(to: URL(fileURLWithPath: output))
        }
        #expect(!outcomes.isEmpty)
        #expect(try ckpt(["convert", input, output, "--dtype", "bf16", "--force", "--quiet"]).status == 0)
        #expect(temporaries(folder).isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == complete)
    }

    /// Stale temporary files are those of dead processes only: a live process's file is kept, as are
    /// other destinations' files.
    @Test func onlyDeadProcessesTemporariesAreRemoved() throws {
        let folder = try temporaryFolder("fault-stale")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = folder + "/in.safetensors"
        try writeF32Checkpoint(input, count: 16)
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = ".out.safetensors.ckpt-tmp-\(finished.processIdentifier)-0"
        let live = ".out.safetensors.ckpt-tmp-\(getpid())-3"
        let other = ".other.safetensors.ckpt-tmp-\(finished.processIdentifier)-0"
        for name in [dead, live, other] { try Data([1, 2, 3]).write(to: URL(fileURLWithPath: folder + "/" + name)) }
        #expect(try ckpt(["convert", input, folder + "/out.safetensors", "--quiet"]).status == 0)
        #expect(Set(temporaries(folder)) == [live, other])
    }

    /// SIGTERM is caught: exit status 143 and the temporary file removed (or the run had completed).
    @Test func sigtermRemovesTheTemporaryFile() throws {
        let folder = try temporaryFolder("fault-term")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try makeInput(folder)
        let output = folder + "/out.safetensors"
        for delay: UInt32 in [50_000, 300_000, 700_000] {
            let (process, _) = try start(["convert", input, output, "--dtype", "bf16", "--force", "--quiet"])
            usleep(delay)
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            #expect(process.terminationStatus == 143 || process.terminationStatus == 0)
            #expect(process.terminationReason == .exit)
            #expect(temporaries(folder).isEmpty)
            if process.terminationStatus == 143 { #expect(!FileManager.default.fileExists(atPath: output)) }
            try? FileManager.default.removeItem(atPath: output)
        }
    }

    /// A file-size limit (`ulimit -f`, SIGXFSZ ignored so the write fails with EFBIG) stands for a full
    /// disk: a clear I/O error, exit status 4, and nothing left in the folder.
    @Test func fileSizeLimitIsAClearErrorWithoutPartialOutput() throws {
        let folder = try temporaryFolder("fault-fsize")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try makeInput(folder)
        let output = folder + "/out.safetensors"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "trap '' XFSZ; ulimit -f 4096; exec \"$0\" convert \"$1\" \"$2\" --dtype bf16 --quiet", ckptBinary, input, output]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 4)
        #expect(message.hasPrefix("ckpt: error: "))
        #expect(message.contains("File too large"))
        #expect(message.contains("ulimit -f"))
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(temporaries(folder).isEmpty)
    }

    /// An input cut short while it is converted (another program truncating it) is an error — a range
    /// check or the SIGBUS handler — never a crash, and leaves no output.
    @Test func inputTruncatedDuringConversionIsAnError() throws {
        let folder = try temporaryFolder("fault-truncate")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let original = try makeInput(folder)
        let output = folder + "/out.safetensors"
        var failures = 0
        for delay: UInt32 in [0, 20_000, 100_000, 250_000, 500_000] {
            let input = folder + "/victim.safetensors"
            try? FileManager.default.removeItem(atPath: input)
            try FileManager.default.copyItem(atPath: original, toPath: input)
            let (process, err) = try start(["convert", input, output, "--dtype", "bf16", "--force", "--quiet"])
            usleep(delay)
            #expect(truncate(input, 40 << 20) == 0)
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationReason == .exit, "killed by signal \(process.terminationStatus)")
            #expect([0, 3, 4].contains(process.terminationStatus))
            if process.terminationStatus != 0 {
                failures += 1
                #expect(message.hasPrefix("ckpt: error: "))
                #expect(message.contains("truncated"))
                #expect(!FileManager.default.fileExists(atPath: output))
                #expect(temporaries(folder).isEmpty)
            }
            try? FileManager.default.removeItem(atPath: output)
        }
        #expect(failures > 0)
    }

    /// The SIGBUS handler (a mapped input shrinking under a read) ends the run like an interruption:
    /// its message, exit status 4, temporary file removed. Raised here with kill(2), which runs the
    /// same handler as a fault does.
    @Test func sigbusIsReportedAndCleansUp() throws {
        let folder = try temporaryFolder("fault-bus")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try makeInput(folder)
        let output = folder + "/out.safetensors"
        let (process, err) = try start(["convert", input, output, "--dtype", "bf16", "--quiet"])
        // Wait until the temporary output exists, so the clean-up has something to remove.
        for _ in 0..<200 where temporaries(folder).isEmpty { usleep(5_000) }
        kill(process.processIdentifier, SIGBUS)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        if process.terminationStatus == 4 {
            #expect(message.hasPrefix("ckpt: error: an input file was truncated or replaced while it was being read (SIGBUS)"))
            #expect(!FileManager.default.fileExists(atPath: output))
        } else {
            #expect(process.terminationStatus == 0, "finished before the signal arrived")
        }
        #expect(temporaries(folder).isEmpty)
    }
}
