import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Golden bytes from the reference implementation's own unit tests (formats.md §1.5) and the
/// writer's ordering rule.
@Suite struct SafeTensorsGoldenTests {
    @Test func emptyFile() throws {
        let header = try SafeTensorsWriter.headerBytes(metadata: nil, orderedTensors: [], path: "x")
        #expect(header == [0x08, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20])
    }

    @Test func metadataOnly() throws {
        let header = try SafeTensorsWriter.headerBytes(metadata: [("framework", "pt")], orderedTensors: [], path: "x")
        #expect(header.count == 48)
        #expect(header[0] == 40)
        #expect(String(decoding: header[8...], as: UTF8.self) == "{\"__metadata__\":{\"framework\":\"pt\"}}     ")
    }

    @Test func singleTensorNeedsNoPadding() throws {
        let tensor = try TensorInfo(name: "attn.0", dtype: .f32, shape: [1, 2, 3])
        let header = try SafeTensorsWriter.headerBytes(metadata: nil, orderedTensors: [tensor], path: "x")
        #expect(header[0] == 64)
        #expect(String(decoding: header[8...], as: UTF8.self) == "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}")
    }

    @Test func layoutOrderIsDTypeRankThenNameBytes() throws {
        let spec: [(String, DType)] = [("b", .f32), ("a", .f16), ("c", .i64), ("é", .f32), ("Z", .f32), ("u", .u8), ("t", .bool)]
        let tensors = try spec.map { try TensorInfo(name: $0.0, dtype: $0.1, shape: [1]) }
        let order = SafeTensorsWriter.layoutOrder(tensors).map { tensors[$0].name }
        #expect(order == ["c", "Z", "b", "é", "a", "u", "t"])
        // "é" precomposed and decomposed are different tensors (byte comparison, not Unicode equivalence).
        let twins = try ["\u{E9}", "e\u{301}"].map { try TensorInfo(name: $0, dtype: .f32, shape: [1]) }
        #expect(SafeTensorsWriter.layoutOrder(twins).map { Array(twins[$0].name.utf8) } == [Array("e\u{301}".utf8), Array("\u{E9}".utf8)])
    }

    @Test func roundTripThroughReader() throws {
        let folder = try makeTemporaryFolder("golden")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/m.safetensors"
        try writeSafeTensors(path, metadata: [("format", "pt")], [
            (try TensorInfo(name: "w", dtype: .f32, shape: [2, 2]), floats([1, 2, 3, 4])),
            (try TensorInfo(name: "ids", dtype: .i64, shape: [2]), le([Int64(7), -1])),
            (try TensorInfo(name: "empty", dtype: .f16, shape: [0, 3]), []),
            (try TensorInfo(name: "s", dtype: .bf16, shape: []), le([UInt16(0x3F80)])),
        ])
        let reader = try SafeTensorsReader(path: path)
        #expect(reader.tensors.map(\.name) == ["ids", "w", "s", "empty"])
        #expect(reader.metadata.safetensors?.map(\.key) == ["format"])
        #expect(Array(try reader.data(at: 1).bytes) == floats([1, 2, 3, 4]))
        #expect(Array(try reader.data(at: 0).bytes) == le([Int64(7), -1]))
        #expect(try reader.data(at: 3).count == 0)
        #expect(reader.header.headerLength % 8 == 0)
    }

    @Test func writerRefusesDuplicateNames() throws {
        let tensor = try TensorInfo(name: "x", dtype: .f32, shape: [1])
        #expect(throws: SafeTensorsError.duplicateName(file: "/nonexistent/x.safetensors", tensor: "x")) {
            try SafeTensorsWriter(destination: "/nonexistent/x.safetensors", metadata: nil, tensors: [tensor, tensor], overwrite: false)
        }
    }
}

/// `inspect` of a 1 GB file reads its header only: measured as the growth of `rchar` in
/// /proc/self/io (bytes obtained by read-type system calls) while opening a sparse 1 GB checkpoint.
@Suite struct HeaderOnlyReadTests {
    static func bytesRead() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/io", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("rchar:") })
        return try #require(Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces)))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/io")))
    func openingReadsLessThanOneMegabyte() throws {
        let folder = try makeTemporaryFolder("sparse")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/big.safetensors"
        let count = 1 << 28  // 268M f32 = 1 GiB of data, sparse on disk
        let tensors = try (0..<4).map { try TensorInfo(name: "w\($0)", dtype: .f32, shape: [count / 4]) }
        let header = try SafeTensorsWriter.headerBytes(metadata: [("format", "pt")], orderedTensors: tensors, path: path)
        try writeBytes(header, to: path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(header.count + count * 4))
        try handle.close()
        let before = try Self.bytesRead()
        let reader = try Checkpoint.open(path)
        let after = try Self.bytesRead()
        #expect(reader.tensors.count == 4)
        #expect(after - before < 1_000_000, "read \(after - before) bytes")
        #expect(after - before >= header.count)
    }
}
