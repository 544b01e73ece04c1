import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Every file the reference tools wrote is read exactly as they describe it (fixtures/safetensors/
/// expected.json), and our writer reproduces the reference writer's bytes from the same content.
@Suite struct FixtureTests {
    static let folder = fixturesFolder + "/safetensors"

    nonisolated(unsafe) static let expected: [String: Any] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static var validFiles: [String] { expected.keys.filter { $0.hasSuffix(".safetensors") }.sorted() }

    /// Files written by `safetensors.numpy.save_file` (the others are hand-built oddities).
    static let referenceWritten: Set<String> = [
        "empty.safetensors", "meta_only.safetensors", "single_f32.safetensors", "sort_order.safetensors",
        "scalar_and_empty.safetensors", "all_dtypes.safetensors", "escapes.safetensors", "unicode_names.safetensors",
        "small_model.safetensors",
    ]

    func check(_ reader: SafeTensorsReader, against description: [String: Any]) throws {
        #expect(reader.file.size == description["file_size"] as? Int)
        #expect(reader.header.headerLength == description["header_length"] as? Int)
        let metadata = description["metadata"] as? [String: String]
        if let metadata {
            let ours = Dictionary(uniqueKeysWithValues: try #require(reader.header.metadata).map { ($0.key, $0.value) })
            #expect(ours == metadata)
        } else {
            #expect(reader.header.metadata == nil)
        }
        let tensors = try #require(description["tensors"] as? [[String: Any]])
        #expect(reader.tensors.count == tensors.count)
        for (index, tensor) in tensors.enumerated() where index < reader.tensors.count {
            let info = reader.tensors[index]
            #expect(Array(info.name.utf8) == Array((tensor["name"] as? String ?? "").utf8))
            #expect(SafeTensorsDType.name(of: info.dtype) == tensor["dtype"] as? String)
            #expect(info.shape == tensor["shape"] as? [Int])
            let entry = reader.header.entries[index]
            #expect([entry.begin, entry.end] == tensor["data_offsets"] as? [Int])
            #expect(SHA256.hex(try reader.data(at: index).bytes) == tensor["sha256"] as? String, "\(info.name)")
        }
    }

    @Test func fixturesArePresent() {
        #expect(Self.validFiles.count == 12)
    }

    @Test(arguments: validFiles)
    func readsExactly(_ name: String) throws {
        let description = try #require(Self.expected[name] as? [String: Any])
        try check(try SafeTensorsReader(path: Self.folder + "/" + name), against: description)
    }

    @Test(arguments: validFiles.filter { referenceWritten.contains($0) })
    func writerReproducesReferenceBytes(_ name: String) throws {
        let source = try SafeTensorsReader(path: Self.folder + "/" + name)
        let temporary = try makeTemporaryFolder("rewrite")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let output = temporary + "/" + name
        // Give the tensors to the writer in a scrambled order: the layout is the writer's business.
        let tensors = try source.tensors.indices.reversed().map { (source.tensors[$0], Array(try source.data(at: $0).bytes)) }
        try writeSafeTensors(output, metadata: source.header.metadata, tensors)
        #expect(try fileBytes(output) == fileBytes(Self.folder + "/" + name))
    }

    @Test func readsTheShardedSetAsOneCheckpoint() throws {
        let sharded = try #require(Self.expected["sharded"] as? [String: Any])
        let shards = try #require(sharded["shards"] as? [String: [String: Any]])
        let reader = try ShardedSafeTensorsReader(path: Self.folder + "/sharded")
        #expect(reader.shards.count == shards.count)
        for shard in reader.shards {
            try check(shard, against: try #require(shards[Paths.baseName(of: shard.path)]))
        }
        let order = try #require(sharded["state_dict_order"] as? [String])
        #expect(Set(reader.tensors.map(\.name)) == Set(order))
        #expect(reader.metadata.index.first?.key == "total_size")
        #expect(reader.warnings.isEmpty)
        let opened = try Checkpoint.open(Self.folder + "/sharded")
        #expect(opened.format == .shardedSafetensors)
    }

    @Test func reshardingReproducesTransformersBytes() throws {
        let sharded = try #require(Self.expected["sharded"] as? [String: Any])
        let order = try #require(sharded["state_dict_order"] as? [String])
        let cap = try #require(sharded["max_shard_size"] as? Int)
        let reader = try ShardedSafeTensorsReader(path: Self.folder + "/sharded")
        let byName = Dictionary(uniqueKeysWithValues: reader.tensors.enumerated().map { ($1.name, $0) })
        let indices = try order.map { try #require(byName[$0]) }
        let temporary = try makeTemporaryFolder("reshard")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let writer = try ShardedSafeTensorsWriter(folder: temporary, metadata: [("format", "pt")], tensors: indices.map { reader.tensors[$0] }, maxShardSize: cap, overwrite: false)
        for position in writer.writeOrder { try writer.write(try reader.data(at: indices[position]).bytes) }
        try writer.finish()
        let produced = try FileManager.default.contentsOfDirectory(atPath: temporary).sorted()
        let reference = try FileManager.default.contentsOfDirectory(atPath: Self.folder + "/sharded").sorted()
        #expect(produced == reference)
        for name in reference {
            #expect(try fileBytes(temporary + "/" + name) == fileBytes(Self.folder + "/sharded/" + name), "\(name)")
        }
    }
}

/// Every malformed file gets its own error, naming the file.
@Suite struct MalformedTests {
    static func manifest(_ folder: String) -> [(String, String)] {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: folder + "/MANIFEST.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: String]] else { return [] }
        return object.compactMap { name, entry in entry["case"].map { (name, $0) } }.sorted { $0.0 < $1.0 }
    }

    static let files = manifest(fixturesFolder + "/safetensors/malformed")
    static let folders = manifest(fixturesFolder + "/safetensors/malformed_sharded")

    @Test func corpusIsLargeEnough() {
        #expect(Self.files.count >= 40)
        #expect(Self.folders.count >= 7)
    }

    /// Opening `path` fails with the SafeTensorsError case `expectedCase`; returns the error.
    @discardableResult
    func expectFailure(_ path: String, _ expectedCase: String) throws -> SafeTensorsError? {
        do {
            _ = try Checkpoint.open(path)
            Issue.record("\(path) was accepted")
        } catch let error as SafeTensorsError {
            #expect(error.caseName == expectedCase, "\(path): \(error)")
            return error
        }
        return nil
    }

    @Test(arguments: files)
    func malformedFileGetsItsError(_ name: String, _ expectedCase: String) throws {
        let error = try expectFailure(fixturesFolder + "/safetensors/malformed/" + name, expectedCase)
        #expect("\(error.map { "\($0)" } ?? name)".contains(name), "the message names the file")
    }

    @Test(arguments: folders)
    func malformedShardedFolderGetsItsError(_ name: String, _ expectedCase: String) throws {
        try expectFailure(fixturesFolder + "/safetensors/malformed_sharded/" + name, expectedCase)
    }

    @Test func messagesCarryTensorAndOffset() throws {
        let folder = fixturesFolder + "/safetensors/malformed/"
        #expect(throws: SafeTensorsError.invalidOffset(file: folder + "hole.safetensors", tensor: "b", begin: 12, end: 20, expected: 8)) {
            try SafeTensorsReader(path: folder + "hole.safetensors")
        }
        #expect(throws: SafeTensorsError.notSafetensors(file: folder + "lfs_pointer.safetensors", detected: .gitLFSPointer)) {
            try SafeTensorsReader(path: folder + "lfs_pointer.safetensors")
        }
        #expect(throws: SafeTensorsError.headerTooLarge(file: folder + "length_over_cap.safetensors", length: 100_000_001)) {
            try SafeTensorsReader(path: folder + "length_over_cap.safetensors")
        }
    }
}
