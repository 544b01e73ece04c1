import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// A real zip64 archive: a record over 4 GiB and a record whose local header starts past 4 GiB, written
/// by ckpt's writer, read back by ckpt and by Python's zipfile (the data is a sparse-friendly run of
/// zeros, generated, never committed).
@Suite struct TorchZip64Tests {
    @Test func recordsPastFourGiB() throws {
        let temporary = try makeTemporaryFolder("zip64")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let bigCount = Int(UInt32.max) + 4096
        let big = try TensorInfo(name: "big", dtype: .u8, shape: [bigCount])
        let small = try TensorInfo(name: "small", dtype: .f32, shape: [3])
        let path = temporary + "/huge.pt"
        let writer = try TorchWriter(destination: path, tensors: [big, small], overwrite: false)
        let zeros = [UInt8](repeating: 0, count: 1 << 24)
        var remaining = bigCount
        try zeros.withUnsafeBytes { chunk in
            while remaining > 0 {
                let n = min(chunk.count, remaining)
                try writer.write(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
                remaining -= n
            }
        }
        try floats([1, 2, 3]).withUnsafeBytes { try writer.write($0) }
        try writer.finish()

        let reader = try TorchReader(path: path)
        #expect(reader.tensors.map(\.byteCount) == [bigCount, 12])
        let entries = reader.archive.zip.entries
        let bigEntry = try #require(entries.first { $0.name == "huge/data/0" })
        let smallEntry = try #require(entries.first { $0.name == "huge/data/1" })
        #expect(bigEntry.size == bigCount)
        #expect(smallEntry.localHeaderOffset > Int(UInt32.max))
        #expect(reader.archive.zip.centralDirectoryOffset > Int(UInt32.max))
        #expect(try reader.data(at: 1).byteArray == floats([1, 2, 3]))
        #expect(smallEntry.dataOffset % 64 == 0)
        // The 24-byte data descriptor after the big record, then the next local header.
        let file = try ReadOnlyFile(path: path)
        #expect(try file.read(at: bigEntry.dataEnd, count: 4) == [0x50, 0x4B, 0x07, 0x08])
        #expect(try file.read(at: bigEntry.dataEnd + 24, count: 4) == [0x50, 0x4B, 0x03, 0x04])

        if let python = InteropTests.python ?? TorchInteropTests.python {
            let script = """
            import sys, zipfile, struct
            z = zipfile.ZipFile(sys.argv[1])
            info = {i.filename: i for i in z.infolist()}
            print(info["huge/data/0"].file_size, info["huge/data/1"].header_offset, struct.unpack("<3f", z.read("huge/data/1")))
            """
            let result = try runProcess(python, ["-c", script, path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "\(bigCount) \(smallEntry.localHeaderOffset) (1.0, 2.0, 3.0)\n")
        } else {
            #expect(ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] != "1", "CKPT_REQUIRE_PYTHON=1 but no python")
        }
    }
}
