import Testing
import Foundation

/// `ckpt inspect` and `ckpt convert` on PyTorch checkpoints, end to end through the executable.
@Suite struct TorchCLITests {
    static let torchFixtures = repositoryFixtures + "/torch"

    @Test func inspectReportsTheStateDictAndWhatItSkips() throws {
        let run = try ckpt(["inspect", Self.torchFixtures + "/nested.pt", "--json", "--verify"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(report["format"] as? String == "pytorch")
        #expect(report["tensor_count"] as? Int == 2)
        let torch = try #require(report["pytorch"] as? [String: Any])
        #expect(torch["state_dict_key"] as? String == "model")
        #expect(torch["archive_folder"] as? String == "nested")
        #expect((torch["skipped"] as? [String: String])?["epoch"] == "int 3")
        let tied = try ckpt(["inspect", Self.torchFixtures + "/sd_tied.pt"])
        #expect(tied.stdout.contains("aliases      b = a (same tensor, stored once)"))
        let key = try ckpt(["inspect", Self.torchFixtures + "/nested.pt", "--key", "optimizer.state.0", "--tensors"])
        #expect(key.status == 0)
        #expect(key.stdout.contains("step"))
        let missing = try ckpt(["inspect", Self.torchFixtures + "/nested.pt", "--key", "nope"])
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("--key 'nope' is not in the checkpoint; it has: 'model', 'epoch', 'lr', 'name', 'optimizer'"))
    }

    @Test func refusalsExitWithInvalidInput() throws {
        for (file, text) in [("malicious/os_system.pt", "refusing to construct os.system"), ("legacy.pt", "legacy (pre-1.6"),
                             ("torchscript.pt", "TorchScript archive"), ("truncated.pt", "truncated download"),
                             ("weights_only_fail.pt", "argparse.Namespace")] {
            let run = try ckpt(["convert", Self.torchFixtures + "/" + file, NSTemporaryDirectory() + "never.safetensors"])
            #expect(run.status == 3, "\(file): \(run.stderr)")
            #expect(run.stderr.contains(text), "\(file): \(run.stderr)")
        }
    }

    @Test func convertsBothWaysAndShards() throws {
        let folder = try temporaryFolder("torch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let toSafetensors = try ckpt(["convert", Self.torchFixtures + "/sd_tied.pt", folder + "/tied.safetensors", "--quiet"])
        #expect(toSafetensors.status == 0, "\(toSafetensors.stderr)")
        let inspected = try ckpt(["inspect", folder + "/tied.safetensors", "--json"])
        let metadata = try #require((try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])?["metadata"] as? [String: String])
        #expect(metadata == ["format": "pt", "b": "a"])
        let back = try ckpt(["convert", folder + "/tied.safetensors", folder + "/tied.pt", "--quiet"])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try ckpt(["inspect", folder + "/tied.pt"]).stdout.contains("b = a (same tensor, stored once)"))
        let sharded = try ckpt(["convert", Self.torchFixtures + "/sd_many.pt", folder + "/out/pytorch_model.bin", "--shard-size", "20", "--dtype", "bf16", "--quiet"])
        #expect(sharded.status == 0, "\(sharded.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder + "/out").sorted()
        #expect(names.count == 4)
        #expect(names.first == "pytorch_model-00001-of-00003.bin")
        #expect(names.last == "pytorch_model.bin.index.json")
        let whole = try ckpt(["inspect", folder + "/out", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(whole.stdout.utf8)) as? [String: Any])
        #expect(report["format"] as? String == "pytorch (sharded)")
        #expect(report["tensor_count"] as? Int == 12)
        #expect((report["dtypes"] as? [String: Any])?.keys.sorted() == ["BF16"])
    }
}
