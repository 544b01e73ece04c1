import Testing
import Foundation
@testable import CheckpointCore

@Suite struct AtomicOutputTests {
    let folder: String

    init() throws {
        folder = NSTemporaryDirectory() + "ckpt-atomic-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    }

    @Test func destinationAppearsOnlyAtCommit() throws {
        let path = folder + "/out.bin"
        let output = try AtomicOutput(destination: path, overwrite: false)
        try output.write(Array(repeating: 7, count: 10_000_000))
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try contents().count == 1)  // only the temporary file
        try output.commit()
        #expect(try contents() == ["out.bin"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 10_000_000)
    }

    @Test func abortAndDeinitLeaveNothing() throws {
        let path = folder + "/out.bin"
        let output = try AtomicOutput(destination: path, overwrite: false)
        try output.write([1, 2, 3])
        output.abort()
        #expect(try contents().isEmpty)
        do {
            let dropped = try AtomicOutput(destination: path, overwrite: false)
            try dropped.write([1, 2, 3])
        }
        #expect(try contents().isEmpty)
    }

    @Test func existingDestinationIsKeptUnlessOverwriting() throws {
        let path = folder + "/out.bin"
        try Data([9]).write(to: URL(fileURLWithPath: path))
        #expect(throws: FileError(path: path, operation: "create", errno: EEXIST)) {
            try AtomicOutput(destination: path, overwrite: false)
        }
        let output = try AtomicOutput(destination: path, overwrite: true)
        try output.write([1, 2])
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([9]))
        try output.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data([1, 2]))
    }

    @Test func copiesRangesOfAnotherFile() throws {
        let source = folder + "/src.bin"
        try Data((0..<255).map { UInt8($0) }).write(to: URL(fileURLWithPath: source))
        let file = try ReadOnlyFile(path: source)
        let output = try AtomicOutput(destination: folder + "/dst.bin", overwrite: false)
        try output.write([0xFF])
        try output.copy(from: file, offset: 10, count: 5)
        #expect(throws: RangeError.self) { try output.copy(from: file, offset: 250, count: 10) }
        try output.commit()
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/dst.bin")) == Data([0xFF, 10, 11, 12, 13, 14]))
    }

    @Test func mappedFileBoundsChecks() throws {
        let source = folder + "/src.bin"
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: source))
        let mapped = try ReadOnlyFile(path: source).map()
        #expect(Array(try mapped.bytes(at: 1, count: 2)) == [2, 3])
        #expect(throws: RangeError.self) { try mapped.bytes(at: 3, count: 2) }
        #expect(throws: RangeError.self) { try mapped.bytes(at: -1, count: 1) }
        #expect(throws: RangeError.self) { try mapped.bytes(at: Int.max, count: Int.max) }
        let empty = folder + "/empty.bin"
        try Data().write(to: URL(fileURLWithPath: empty))
        #expect(try ReadOnlyFile(path: empty).map().bytes(at: 0, count: 0).count == 0)
    }
}
