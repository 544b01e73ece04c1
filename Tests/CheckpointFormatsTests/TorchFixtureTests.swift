import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Files written by the real `torch.save` (fixtures/torch, made by make_torch_fixtures.py) read exactly
/// as `torch.load(weights_only=True)` describes them in expected.json: names in order, dtypes, shapes,
/// strides, storage offsets, which tensors share a storage, and the bytes of every tensor.
@Suite struct TorchFixtureTests {
    static let folder = fixturesFolder + "/torch"

    nonisolated(unsafe) static let expected: [String: Any] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static var files: [String] { expected.keys.filter { !$0.hasPrefix("_") }.sorted() }

    @Test func expectationsArePresent() {
        #expect(Self.files.count == 13)
    }

    @Test(arguments: files)
    func readsAsTorchDescribesIt(_ file: String) throws {
        let description = try #require(Self.expected[file] as? [String: Any])
        let reader = try TorchReader(path: Self.folder + "/" + file, options: TorchReadOptions(verify: true))
        #expect(reader.archive.zip.entries.map(\.name) == description["records"] as? [String])
        let tensors = try #require(description["tensors"] as? [[String: Any]])
        let entries = reader.stateDict.entries
        #expect(entries.map(\.name) == tensors.map { $0["name"] as? String ?? "" })
        var storageOfGroup: [Int: String] = [:]
        let digests = try Dictionary(uniqueKeysWithValues: reader.tensors.indices.map { (reader.tensors[$0].name, try reader.data(at: $0).withBytes { SHA256.hex($0) }) })
        let aliasTarget = Dictionary(uniqueKeysWithValues: reader.metadata.aliases.map { ($0.name, $0.target) })
        for (entry, tensor) in zip(entries, tensors) {
            let torchDType = try #require(tensor["dtype"] as? String)
            #expect(PickleGlobal.torchDTypes[torchDType] == .some(entry.tensor.dtype), "\(file) \(entry.name)")
            #expect(entry.tensor.shape == tensor["shape"] as? [Int], "\(file) \(entry.name)")
            #expect(entry.tensor.stride == tensor["stride"] as? [Int], "\(file) \(entry.name)")
            #expect(entry.tensor.storageOffset == tensor["storage_offset"] as? Int, "\(file) \(entry.name)")
            let group = try #require(tensor["storage"] as? Int)
            if let key = storageOfGroup[group] {
                #expect(key == entry.tensor.storage.key, "\(file) \(entry.name) shares a storage")
            } else {
                #expect(!storageOfGroup.values.contains(entry.tensor.storage.key), "\(file) \(entry.name) has its own storage")
                storageOfGroup[group] = entry.tensor.storage.key
            }
            let digest = digests[entry.name] ?? aliasTarget[entry.name].flatMap { digests[$0] }
            #expect(digest == tensor["sha256"] as? String, "\(file) \(entry.name)")
        }
    }

    @Test func chosenStateDictsAndSkippedContent() throws {
        let nested = try TorchReader(path: Self.folder + "/nested.pt")
        #expect(nested.stateDict.key == "model")
        #expect(nested.stateDict.otherContent.map(\.path) == ["epoch", "lr", "name", "optimizer"])
        #expect(nested.stateDict.otherContent.map(\.summary) == ["int 3", "float 0.1", "str 'x'", "dict of 2 holding 1 tensor (skipped)"])
        let optimizer = try TorchReader(path: Self.folder + "/nested.pt", options: TorchReadOptions(key: "optimizer.state.0"))
        #expect(optimizer.tensors.map(\.name) == ["step"])
        #expect(optimizer.tensors.first?.shape == [])
        let lightning = try TorchReader(path: Self.folder + "/lightning.pt")
        #expect(lightning.stateDict.key == "state_dict")
        #expect(lightning.tensors.map(\.name) == ["model.weight", "model.bias"])
        #expect(throws: TorchError.self) { try TorchReader(path: Self.folder + "/nested.pt", options: TorchReadOptions(key: "missing")) }
        #expect(throws: TorchError.self) { try TorchReader(path: Self.folder + "/nested.pt", options: TorchReadOptions(key: "epoch")) }
    }

    @Test func tiedAndSharedStorage() throws {
        let reader = try TorchReader(path: Self.folder + "/sd_tied.pt")
        #expect(reader.tensors.map(\.name) == ["a", "c"])
        #expect(reader.metadata.aliases.map(\.name) == ["b"])
        #expect(reader.metadata.aliases.map(\.target) == ["a"])
        #expect(reader.metadata.torch?.sharedStorage.map(\.name) == ["c"])
        // a is a zero-copy range of data/0; c is the same record 12 bytes in.
        #expect(reader.isZeroCopy(0) && reader.isZeroCopy(1))
        #expect(reader.location(of: 1).offset == reader.location(of: 0).offset + 12)
        #expect(reader.metadata.safetensorsOutput(aliases: reader.metadata.aliases).map { $0.map(\.key) } == ["format", "b"])
    }

    @Test func viewsAreMaterialisedInCOrder() throws {
        let reader = try TorchReader(path: Self.folder + "/sd_views.pt")
        #expect(reader.tensors.map(\.name) == ["transposed", "column", "expanded", "empty", "scalar"])
        #expect(!reader.isZeroCopy(0) && !reader.isZeroCopy(1) && !reader.isZeroCopy(2))
        #expect(reader.source(of: 0) == nil)
        let transposed = try reader.data(at: 0)
        #expect(transposed.byteArray == floats([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]))
        #expect(try reader.data(at: 1).byteArray == floats([1, 5, 9]))
        #expect(try reader.data(at: 2).byteArray == floats([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]))
        #expect(try reader.data(at: 3).count == 0)
        #expect(try reader.data(at: 4).byteArray == floats([3]))
    }

    @Test func shardFolderAndAdapterFolder() throws {
        let sharded = try Checkpoint.open(Self.folder + "/sharded")
        #expect(sharded.format == .shardedTorch)
        #expect(sharded.tensors.map(\.name) == ["layer0.weight", "layer1.weight", "layer2.weight", "layer3.weight"])
        #expect(try sharded.data(at: 3).byteArray == floats([Float](repeating: 3, count: 16)))
        let adapter = try Checkpoint.open(Self.folder + "/adapter_model.bin")
        #expect(adapter.tensors.map(\.dtype) == [.bf16, .bf16])
        #expect(adapter.tensors.map(\.shape) == [[2, 4], [4, 2]])
    }

    @Test func filesThatAreNotStateDictsAreRefusedWithWhatTheyAre() throws {
        func message(_ path: String) -> String {
            do {
                _ = try Checkpoint.open(path.hasPrefix("/") ? path : Self.folder + "/" + path)
                return "opened"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("weights_only_fail.pt").contains("refusing to construct argparse.Namespace"))
        #expect(message("legacy.pt").contains("legacy (pre-1.6 / non-zip) torch.save file"))
        #expect(message("torchscript.pt").contains("TorchScript archive"))
        #expect(message("truncated.pt").contains("not a complete zip archive"))
        #expect(message("truncated.pt").contains("truncated download"))
        let temporary = try makeTemporaryFolder("torch-refusals")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try writeBytes(Array("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n".utf8), to: temporary + "/lfs.bin")
        try writeBytes(Array("<!DOCTYPE html><html><body>404</body></html>".utf8), to: temporary + "/page.bin")
        try writeBytes(Array("PYTORCH1".utf8) + [UInt8](repeating: 0, count: 40), to: temporary + "/preview.pt")
        try writeBytes([0x80, 0x04, 0x95] + [UInt8](repeating: 0, count: 20), to: temporary + "/bare.pkl")
        #expect(message(temporary + "/lfs.bin").hasSuffix("Git LFS pointer (the weights were never downloaded: run `git lfs pull`); get the real file"))
        #expect(message(temporary + "/page.bin").contains("an HTML page"))
        #expect(message(temporary + "/preview.pt").contains("preview-release archive; re-save it"))
        #expect(message(temporary + "/bare.pkl").contains("a bare Python pickle; re-save it"))
    }

    @Test func protocol4PicklesAreRead() throws {
        let reader = try TorchReader(path: Self.folder + "/proto4.pt")
        #expect(reader.archive.pickleProtocol == 4)
        #expect(try reader.data(at: 0).byteArray == floats([0, 1, 2, 3, 4, 5]))
    }
}
