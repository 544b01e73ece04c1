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
        #expect(Self.files.count == 15)
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

extension TorchFixtureTests {
    @Test func deflatedRecordsAreInflatedAndChecked() throws {
        let reader = try TorchReader(path: Self.folder + "/deflated.pt")
        #expect(reader.archive.zip.entries.contains { !$0.isStored })
        #expect(!reader.isZeroCopy(0))
        #expect(reader.source(of: 0) == nil)
        let stored = try TorchReader(path: Self.folder + "/sd_multi.pt")
        for index in stored.tensors.indices {
            #expect(try reader.data(at: index).byteArray == stored.data(at: index).byteArray)
        }
    }
}

extension TorchFixtureTests {
    /// safetensors → PyTorch → safetensors gives back the reference file byte for byte, and the PyTorch
    /// step keeps every dtype safetensors and torch share.
    @Test func roundTripThroughPyTorchIsByteExact() throws {
        let temporary = try makeTemporaryFolder("torch-roundtrip")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let original = fixturesFolder + "/safetensors/small_model.safetensors"
        func convert(_ input: String, _ output: String) throws {
            let reader = try Checkpoint.open(input)
            let plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
            let target = try OutputTarget.resolve(path: output, format: nil, shardSize: nil)
            let writer = try target.makeWriter(metadata: reader.metadata.safetensorsOutput(aliases: []), tensors: plan.outputTensors, overwrite: false)
            try Converter(reader: reader, plan: plan).run(into: writer)
        }
        try convert(original, temporary + "/model.bin")
        try convert(temporary + "/model.bin", temporary + "/back.safetensors")
        #expect(try fileBytes(temporary + "/back.safetensors") == fileBytes(original))
        let torch = try TorchReader(path: temporary + "/model.bin")
        #expect(torch.archive.folder == "model")
        #expect(torch.archive.version == 3)
        #expect(torch.archive.zip.entries.map(\.name).prefix(4) == ["model/data.pkl", "model/.format_version", "model/.storage_alignment", "model/byteorder"])
        #expect(torch.archive.zip.entries.suffix(2).map(\.name) == ["model/version", "model/.data/serialization_id"])
        #expect(torch.archive.zip.entries.allSatisfy { $0.dataOffset % 64 == 0 })
    }

    @Test func pytorchOutputRefusesWhatTorchCannotHold() throws {
        let temporary = try makeTemporaryFolder("torch-refuse")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let packed = try TensorInfo(name: "p", dtype: .f4, shape: [4])
        #expect(throws: TorchWriter.UnsupportedDType.self) { try TorchWriter(destination: temporary + "/p.bin", tensors: [packed], overwrite: false) }
        #expect(FileManager.default.fileExists(atPath: temporary + "/p.bin") == false)
        #expect(TorchWriter.folderName(for: "/x/pytorch_model.bin") == "pytorch_model")
        #expect(TorchWriter.folderName(for: "/x/modèle.pt") == "archive")
    }
}

extension TorchFixtureTests {
    @Test func bigEndianFilesAreSwappedOnRead() throws {
        let big = try TorchReader(path: Self.folder + "/bigendian.pt")
        let little = try TorchReader(path: Self.folder + "/sd_multi.pt")
        #expect(big.archive.bigEndian)
        #expect(big.source(of: 0) == nil)
        for index in little.tensors.indices {
            #expect(try big.data(at: index).byteArray == little.data(at: index).byteArray)
        }
    }
}

extension TorchFixtureTests {
    @Test func peftFolderOpensItsAdapterModelBin() throws {
        let temporary = try makeTemporaryFolder("peft")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try FileManager.default.copyItem(atPath: Self.folder + "/adapter_model.bin", toPath: temporary + "/adapter_model.bin")
        try writeBytes(Array("{\"r\": 2, \"lora_alpha\": 4, \"peft_type\": \"LORA\"}".utf8), to: temporary + "/adapter_config.json")
        let reader = try Checkpoint.open(temporary)
        #expect(reader.format == .torch)
        #expect(reader.tensors.map(\.name) == ["base_model.model.q_proj.lora_A.weight", "base_model.model.q_proj.lora_B.weight"])
    }
}
