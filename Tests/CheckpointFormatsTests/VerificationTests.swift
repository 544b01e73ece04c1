import Foundation
import Testing
import CheckpointCore
@testable import CheckpointFormats

@Suite struct VerificationTests {
    /// A flipped byte in a stored record of a torch.save file is found by its CRC-32, named by record.
    @Test func corruptZipRecordIsAChecksumProblem() throws {
        let folder = try makeTemporaryFolder("verify-crc")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/sd_single.pt"
        var bytes = try fileBytes(fixturesFolder + "/torch/sd_single.pt")
        let clean = try TorchReader(path: fixturesFolder + "/torch/sd_single.pt")
        let location = clean.location(of: 0)
        bytes[location.offset] ^= 0x40
        try writeBytes(bytes, to: path)
        let report = CheckpointVerifier().verify(try TorchReader(path: path))
        let entry = try #require(clean.archive.storageEntries.values.first)
        let stored = entry.crc32
        var crc = CRC32()
        crc.update(Array(bytes[entry.dataOffset..<(entry.dataOffset + entry.compressedSize)]))
        #expect(report.problems == [VerificationProblem(
            kind: .checksum, subject: entry.name,
            message: ZipError.crcMismatch(file: path, entry: entry.name, stored: stored, computed: crc.value).description)])
        #expect(report.zipRecordsChecked == clean.archive.zip.entries.count)
        #expect(CheckpointVerifier().verify(clean).isClean)
    }

    /// A file cut short after it was opened is reported per tensor (positioned reads, no SIGBUS).
    @Test func fileTruncatedAfterOpenIsUnreadable() throws {
        let folder = try makeTemporaryFolder("verify-truncated")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/m.safetensors"
        let a = try TensorInfo(name: "a", dtype: .f32, shape: [4])
        let b = try TensorInfo(name: "b", dtype: .f32, shape: [1024])
        try writeSafeTensors(path, metadata: nil, [(a, floats([1, 2, 3, 4])), (b, floats([Float](repeating: 0.5, count: 1024)))])
        let reader = try SafeTensorsReader(path: path)
        let size = reader.location(of: 1).offset + 8
        #expect(truncate(path, off_t(size)) == 0)
        let report = CheckpointVerifier().verify(reader)
        let location = reader.location(of: 1)
        let end = location.offset + location.count
        #expect(report.problems == [VerificationProblem(
            kind: .unreadable, subject: "b",
            message: "byte range \(location.offset)..<\(end) is outside '\(path)' (\(size) bytes); the file is truncated or corrupt")])
        #expect(report.tensors.map(\.readable) == [true, false])
        #expect(report.tensors[0].nonFinite == NonFiniteCount())
    }

    /// ggml blocks are dequantized before the scan: a Q8_0 block whose f16 scale is NaN makes all
    /// 32 values NaN; an infinite scale makes the non-zero quants infinite (0 × ∞ is NaN).
    @Test func quantizedBlocksAreScannedAfterDequantization() throws {
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: 64)
        defer { scratch.deallocate() }
        var block = [UInt8](repeating: 0, count: 68)
        block[0] = 0x00; block[1] = 0x7E  // f16 NaN scale
        block[34] = 0x00; block[35] = 0x7C  // f16 +inf scale
        for index in 36..<68 { block[index] = index == 36 ? 0 : 1 }
        var counts = NonFiniteCount()
        try block.withUnsafeBytes { try counts.add($0, dtype: .q8_0, count: 64, scratch: scratch) }
        #expect(counts == NonFiniteCount(nan: 33, infinite: 31))
    }

    /// The bit-level test for f64/f32 agrees with the values' own classification.
    @Test func ieeeClassification() throws {
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: 8)
        defer { scratch.deallocate() }
        let doubles: [Double] = [.nan, -.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        var counts = NonFiniteCount()
        try le(doubles.map(\.bitPattern)).withUnsafeBytes { try counts.add($0, dtype: .f64, count: 8, scratch: scratch) }
        #expect(counts == NonFiniteCount(nan: 2, infinite: 2))
        counts = NonFiniteCount()
        try le([Float.signalingNaN, .infinity, 1, -.infinity].map(\.bitPattern)).withUnsafeBytes { try counts.add($0, dtype: .c64, count: 2, scratch: scratch) }
        #expect(counts == NonFiniteCount(nan: 1, infinite: 2))
    }
}

@Suite struct MappedRangeTests {
    /// A mapped range past the current end of a file that shrank since it was opened is refused with
    /// the file's present size instead of being handed out (touching it would raise SIGBUS).
    @Test func rangeBeyondTheShrunkFileIsARangeError() throws {
        let folder = try makeTemporaryFolder("mapped-shrunk")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/data.bin"
        try writeBytes([UInt8](repeating: 7, count: 1 << 16), to: path)
        let mapped = try ReadOnlyFile(path: path).map()
        #expect(try mapped.bytes(at: 4096, count: 4096).count == 4096)
        #expect(truncate(path, 5000) == 0)
        let error = #expect(throws: RangeError.self) { _ = try mapped.bytes(at: 4096, count: 4096) }
        #expect(error?.description == "byte range 4096..<8192 is outside '\(path)' (5000 bytes); the file is truncated or corrupt")
        #expect(try mapped.bytes(at: 0, count: 5000).count == 5000)
    }
}
