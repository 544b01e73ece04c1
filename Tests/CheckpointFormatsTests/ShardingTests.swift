import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

@Suite struct ShardingTests {
    @Test func planFollowsHuggingfaceHub() {
        #expect(ShardPlan.groups(byteCounts: [4, 4, 4], maxShardSize: 8) == [[0, 1], [2]])
        // A tensor over the cap gets its own shard, placed before the shard being filled.
        #expect(ShardPlan.groups(byteCounts: [4, 20, 4, 4], maxShardSize: 8) == [[1], [0, 2], [3]])
        #expect(ShardPlan.groups(byteCounts: [], maxShardSize: 8) == [])
        #expect(ShardPlan.groups(byteCounts: [8, 0, 1], maxShardSize: 8) == [[0, 1], [2]])
    }

    @Test func shardNames() {
        #expect(ShardNaming.shardName(prefix: "model", number: 2, of: 13, fileExtension: "safetensors") == "model-00002-of-00013.safetensors")
        #expect(ShardNaming.isShardFile("model-00002-of-00013.safetensors", ofIndex: "model.safetensors.index.json"))
        #expect(!ShardNaming.isShardFile("model-2-of-13.safetensors", ofIndex: "model.safetensors.index.json"))
        #expect(!ShardNaming.isShardFile("other-00002-of-00013.safetensors", ofIndex: "model.safetensors.index.json"))
    }

    func sample() throws -> [(TensorInfo, [UInt8])] {
        try (0..<5).map { index in
            (try TensorInfo(name: "layer.\(index).weight", dtype: .f32, shape: [2, 2]), floats([Float(index), 1, 2, 3]))
        }
    }

    @Test func writesAndReadsBackAShardedSet() throws {
        let folder = try makeTemporaryFolder("shards")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tensors = try sample()
        let writer = try ShardedSafeTensorsWriter(folder: folder, metadata: [("format", "pt")], tensors: tensors.map(\.0), maxShardSize: 32, overwrite: false)
        for index in writer.writeOrder { try tensors[index].1.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == [
            "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json",
        ])
        let index = String(decoding: try fileBytes(folder + "/model.safetensors.index.json"), as: UTF8.self)
        #expect(index.hasPrefix("{\n  \"metadata\": {\n    \"total_size\": 80\n  },\n  \"weight_map\": {\n    \"layer.0.weight\": \"model-00001-of-00003.safetensors\","))
        #expect(index.hasSuffix("}\n}\n"))
        let reader = try ShardedSafeTensorsReader(path: folder)
        #expect(reader.tensors.map(\.name) == tensors.map(\.0.name))
        for (number, tensor) in tensors.enumerated() { #expect(Array(try reader.data(at: number).bytes) == tensor.1) }
        #expect(reader.warnings.isEmpty)

        // Re-sharding into fewer shards over the same folder removes the stale third shard.
        let again = try ShardedSafeTensorsWriter(folder: folder, metadata: nil, tensors: tensors.map(\.0), maxShardSize: 48, overwrite: true)
        for index in again.writeOrder { try tensors[index].1.withUnsafeBytes { try again.write($0) } }
        try again.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == [
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
        ])
        #expect(try ShardedSafeTensorsReader(path: folder).tensors.count == 5)
    }

    @Test func oneShardMeansNoIndex() throws {
        let folder = try makeTemporaryFolder("oneshard")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tensors = try sample()
        let writer = try ShardedSafeTensorsWriter(folder: folder, metadata: nil, tensors: tensors.map(\.0), maxShardSize: 1 << 30, overwrite: false)
        for index in writer.writeOrder { try tensors[index].1.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["model.safetensors"])
    }

    @Test func staleShardIsAnError() throws {
        let folder = try makeTemporaryFolder("stale")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tensors = try sample()
        let writer = try ShardedSafeTensorsWriter(folder: folder, metadata: nil, tensors: tensors.map(\.0), maxShardSize: 48, overwrite: false)
        for index in writer.writeOrder { try tensors[index].1.withUnsafeBytes { try writer.write($0) } }
        try writer.finish()
        try writeBytes(try fileBytes(folder + "/model-00001-of-00002.safetensors"), to: folder + "/model-00003-of-00003.safetensors")
        #expect { try ShardedSafeTensorsReader(path: folder) } throws: { error in
            (error as? SafeTensorsError)?.caseName == "invalidIndex" && "\(error)".contains("model-00003-of-00003.safetensors")
        }
    }
}
