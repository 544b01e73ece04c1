import Testing
import Foundation
@testable import CheckpointCore
import CFileIO

/// Outputs written with O_DIRECT (`AtomicOutput(direct: true)`) hold exactly the bytes written, in
/// order, whatever the sizes and alignment of the pieces: writes and file copies that straddle the
/// 8 MiB staging buffers, an unaligned tail, on the temporary folder's file system and on tmpfs
/// (which takes O_DIRECT since Linux 6.6 and refuses it before, when the output falls back to
/// buffered writes).
@Suite struct DirectStagingTests {
    /// Pieces of sizes chosen to cross buffer boundaries at odd offsets; bytes from a counter so that
    /// any reordering or loss shows.
    func writeAndCheck(folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var state: UInt32 = 8
        let sourcePath = folder + "/source.bin"
        let source = (0..<(20 << 20)).map { _ -> UInt8 in
            state = state &* 1_664_525 &+ 1_013_904_223
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        try Data(source).write(to: URL(fileURLWithPath: sourcePath))
        let file = try ReadOnlyFile(path: sourcePath)
        let path = folder + "/out.bin"
        let output = try AtomicOutput(destination: path, overwrite: false, direct: true)
        // Where the file system takes the flag (ext4, xfs, tmpfs since Linux 6.6), the direct path must run.
        let probe = open(sourcePath, O_RDONLY)
        if probe >= 0 {
            if ckpt_set_direct_io(probe, 1) == 0 { #expect(output.writesDirectly, "\(folder) takes O_DIRECT") }
            close(probe)
        }
        var expected: [UInt8] = []
        let sizes = [1, 4095, 4097, 3 << 20, (8 << 20) - 5, 17, 9 << 20, 12_345, (16 << 20) + 3, 100]
        for (index, size) in sizes.enumerated() {
            if index % 3 == 2 {
                let offset = (index * 7_919) % (source.count - size)
                try output.copy(from: file, offset: offset, count: size)
                expected += source[offset..<(offset + size)]
            } else {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
                try output.write(bytes)
                expected += bytes
            }
        }
        #expect(output.bytesWritten == expected.count)
        try output.commit()
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(written.count == expected.count)
        #expect(written == Data(expected))
    }

    @Test func bytesLandInOrderOnTheTemporaryFolder() throws {
        try writeAndCheck(folder: NSTemporaryDirectory() + "ckpt-direct-\(UUID().uuidString)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/shm"), "no /dev/shm (tmpfs) on this machine"))
    func bytesLandInOrderOnTmpfs() throws {
        try writeAndCheck(folder: "/dev/shm/ckpt-direct-\(UUID().uuidString)")
    }

    /// Abort with a buffer on its way to the device waits for it, then leaves nothing behind.
    @Test func abortLeavesNothing() throws {
        let folder = NSTemporaryDirectory() + "ckpt-direct-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let output = try AtomicOutput(destination: folder + "/out.bin", overwrite: false, direct: true)
        try output.write([UInt8](repeating: 3, count: (8 << 20) + 1))
        output.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}
