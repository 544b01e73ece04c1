import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// A malformed-zip corpus made by damaging a real torch.save file (sd_single.pt) one way at a time:
/// each damage is refused with its own ZipError case, never a crash.
@Suite struct MalformedZipTests {
    static let original: [UInt8] = (try? fileBytes(fixturesFolder + "/torch/sd_single.pt")) ?? []

    /// Offsets of the structures of the original file.
    struct Layout {
        var bytes: [UInt8]
        var size: Int { bytes.count }
        var endRecord: Int { size - 22 }
        var locator: Int { size - 42 }
        var zip64End: Int { size - 98 }
        var directory: Int { Int(u64(zip64End + 48)) }
        /// Start of central entry `n`.
        func central(_ n: Int) -> Int {
            var at = directory
            for _ in 0..<n { at += 46 + Int(u16(at + 28)) + Int(u16(at + 30)) + Int(u16(at + 32)) }
            return at
        }
        func local(_ n: Int) -> Int { Int(u32(central(n) + 42)) }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        mutating func put<T: FixedWidthInteger>(_ value: T, at: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(at..<(at + $0.count), with: $0) }
        }
    }

    /// (name, damage, expected ZipError case, whether to verify CRCs)
    nonisolated(unsafe) static let damages: [(String, (inout Layout) -> Void, String, Bool)] = [
        ("truncated at 70%", { $0.bytes = Array($0.bytes.prefix($0.size * 7 / 10)) }, "noEndOfCentralDirectory", false),
        ("truncated by one byte", { $0.bytes.removeLast() }, "noEndOfCentralDirectory", false),
        ("shorter than an end record", { $0.bytes = Array($0.bytes.prefix(10)) }, "noEndOfCentralDirectory", false),
        ("central directory offset disagrees with zip64", { layout in layout.put(UInt32(5), at: layout.endRecord + 16) }, "zip64Inconsistent", false),
        ("entry count disagrees with zip64", { layout in layout.put(UInt16(3), at: layout.endRecord + 10) }, "zip64Inconsistent", false),
        ("zip64 record signature damaged", { layout in layout.bytes[layout.zip64End] = 0 }, "zip64RecordInvalid", false),
        ("zip64 locator points past itself", { layout in layout.put(UInt64(1 << 40), at: layout.locator + 8) }, "zip64LocatorInvalid", false),
        ("zip64 defers to a missing record", { layout in
            layout.bytes[layout.locator] = 0
            layout.put(UInt32.max, at: layout.endRecord + 16)
        }, "zip64Missing", false),
        ("central directory past its end record", { layout in
            layout.put(UInt64(layout.size), at: layout.zip64End + 48)
            layout.put(UInt32.max, at: layout.endRecord + 16)
        }, "centralDirectoryOutOfRange", false),
        ("billions of entries", { layout in
            layout.put(UInt64(1 << 33), at: layout.zip64End + 24)
            layout.put(UInt64(1 << 33), at: layout.zip64End + 32)
            layout.put(UInt16.max, at: layout.endRecord + 8)
            layout.put(UInt16.max, at: layout.endRecord + 10)
        }, "tooManyEntries", false),
        ("one entry more than the directory holds", { layout in
            let count = layout.u16(layout.endRecord + 10) + 1
            layout.put(UInt64(count), at: layout.zip64End + 24)
            layout.put(UInt64(count), at: layout.zip64End + 32)
            layout.put(count, at: layout.endRecord + 8)
            layout.put(count, at: layout.endRecord + 10)
        }, "centralDirectoryTruncated", false),
        ("central entry signature damaged", { layout in layout.bytes[layout.central(2)] = 0x51 }, "badCentralSignature", false),
        ("multi-disk archive", { layout in layout.put(UInt32(1), at: layout.zip64End + 16) }, "multiDisk", false),
        ("local header signature damaged", { layout in layout.bytes[layout.local(1)] = 0 }, "badLocalSignature", false),
        ("local name differs from central name", { layout in layout.bytes[layout.local(0) + 30 + 3] ^= 0x20 }, "localHeaderMismatch", false),
        ("path traversal name", { layout in
            for at in [layout.central(0) + 46, layout.local(0) + 30] { layout.bytes.replaceSubrange(at..<(at + 3), with: Array("../".utf8)) }
        }, "unsafeName", false),
        ("absolute name", { layout in
            for at in [layout.central(0) + 46, layout.local(0) + 30] { layout.bytes[at] = UInt8(ascii: "/") }
        }, "unsafeName", false),
        ("entry runs into the next", { layout in
            layout.put(UInt32(4000), at: layout.central(0) + 20)
            layout.put(UInt32(4000), at: layout.central(0) + 24)
        }, "dataOutOfRange", false),
        ("entries overlap", { layout in
            let size = UInt32(layout.local(1) - layout.local(0))
            layout.put(size, at: layout.central(0) + 20)
            layout.put(size, at: layout.central(0) + 24)
        }, "overlappingEntries", false),
        ("stored sizes disagree", { layout in layout.put(UInt32(7), at: layout.central(0) + 24) }, "storedSizeMismatch", false),
        ("unknown compression method", { layout in
            layout.put(UInt16(12), at: layout.central(0) + 10)
            layout.put(UInt16(12), at: layout.local(0) + 8)
        }, "unsupportedMethod", false),
        ("local and central methods differ", { layout in layout.put(UInt16(8), at: layout.local(0) + 8) }, "localHeaderMismatch", false),
        ("encrypted entry", { layout in layout.bytes[layout.central(0) + 8] |= 1 }, "encrypted", false),
        ("zip64 size without its extra field", { layout in
            layout.put(UInt32.max, at: layout.central(4) + 20)
            layout.put(UInt32.max, at: layout.central(4) + 24)
        }, "zip64ExtraMissing", false),
        ("wrong CRC-32 with --verify", { layout in layout.put(UInt32(0xDEAD_BEEF), at: layout.central(4) + 16) }, "crcMismatch", true),
        ("deflate method on stored bytes", { layout in
            layout.put(UInt16(8), at: layout.central(4) + 10)
            layout.put(UInt16(8), at: layout.local(4) + 8)
        }, "inflateFailed", false),
    ]

    @Test func corpusIsLarge() { #expect(Self.damages.count >= 15) }

    @Test func originalIsValid() throws {
        let temporary = try makeTemporaryFolder("zip-ok")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try writeBytes(Self.original, to: temporary + "/ok.pt")
        let reader = try TorchReader(path: temporary + "/ok.pt", options: TorchReadOptions(verify: true))
        #expect(reader.tensors.count == 1)
        #expect(Layout(bytes: Self.original).central(7) == Layout(bytes: Self.original).zip64End)
    }

    @Test(arguments: damages.indices)
    func damageIsRefusedWithItsOwnError(_ index: Int) throws {
        let (name, damage, expected, verify) = Self.damages[index]
        var layout = Layout(bytes: Self.original)
        damage(&layout)
        let temporary = try makeTemporaryFolder("zip-bad")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try writeBytes(layout.bytes, to: temporary + "/bad.pt")
        do {
            let reader = try TorchReader(path: temporary + "/bad.pt", options: TorchReadOptions(verify: verify))
            for tensor in reader.tensors.indices { _ = try reader.data(at: tensor).byteArray }
            Issue.record("\(name): accepted")
        } catch let error as ZipError {
            #expect(error.caseName == expected, "\(name): \(error)")
        } catch {
            Issue.record("\(name): \(error)")
        }
    }

    @Test func duplicateNamesAreRefused() throws {
        let temporary = try makeTemporaryFolder("zip-dup")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let zip = AlignedZipWriter(output: try AtomicOutput(destination: temporary + "/dup.zip", overwrite: false))
        try zip.addRecord(name: "a/x", bytes: [1])
        try zip.addRecord(name: "a/x", bytes: [2])
        try zip.finish()
        #expect { try ZipArchive(path: temporary + "/dup.zip") } throws: { ($0 as? ZipError)?.caseName == "duplicateName" }
    }
}
