import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Files compressed by the real `zstd` command (fixtures/zstd, see its MANIFEST.json) read exactly as
/// their uncompressed originals; every malformed one fails with its own error and leaves no temporary
/// file; what ckpt compresses, `zstd -d` restores byte for byte. Serialized: the checks for leftover
/// temporary files look at the whole scratch folder of this process.
@Suite(.serialized) struct ZstdTests {
    static let folder = fixturesFolder + "/zstd"

    nonisolated(unsafe) static let manifest: [String: Any] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: folder + "/MANIFEST.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }()

    static var valid: [[String: Any]] { manifest["valid"] as? [[String: Any]] ?? [] }
    static var malformed: [[String: Any]] { manifest["malformed"] as? [[String: Any]] ?? [] }

    /// Scratch files this process left in the scratch folder.
    static func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: CompressedCheckpointReader.scratchFolder)
            .filter { $0.hasPrefix("ckpt-\(getpid())-") }
    }

    @Test func manifestListsTheCorpus() {
        #expect(Self.valid.count == 6)
        #expect(Self.malformed.count == 15)
    }

    @Test func compressedFixturesReadExactlyAsTheirOriginals() throws {
        for entry in Self.valid {
            let name = try #require(entry["file"] as? String)
            let original = try SafeTensorsReader(path: fixturesFolder + "/safetensors/" + (try #require(entry["uncompressed"] as? String)))
            var scratch = ""
            do {
                let opened = try Checkpoint.open(Self.folder + "/" + name)
                let reader = try #require(opened as? CompressedCheckpointReader, "\(name)")
                scratch = reader.scratchPath
                #expect(FileManager.default.fileExists(atPath: scratch))
                #expect(reader.path == Self.folder + "/" + name)
                #expect(reader.format == .safetensors)
                #expect(reader.decompressedBytes == original.file.size, "\(name)")
                let size = try FileManager.default.attributesOfItem(atPath: Self.folder + "/" + name)[.size] as? Int
                #expect(reader.compressedBytes == size)
                #expect(reader.metadata.safetensors?.map(\.key) == original.metadata.safetensors?.map(\.key))
                #expect(reader.metadata.safetensors?.map(\.value) == original.metadata.safetensors?.map(\.value))
                #expect(reader.tensors == original.tensors, "\(name)")
                for index in original.tensors.indices {
                    #expect(Array(try reader.data(at: index).bytes) == Array(try original.data(at: index).bytes), "\(name): \(original.tensors[index].name)")
                    #expect(reader.location(of: index).file == reader.path)
                    #expect(reader.location(of: index).offset == original.location(of: index).offset)
                }
            }
            #expect(!FileManager.default.fileExists(atPath: scratch), "\(name): the decompressed copy outlived its reader")
        }
        #expect(try Self.leftovers().isEmpty)
    }

    @Test func malformedFilesFailWithTheirOwnError() throws {
        for entry in Self.malformed {
            let name = try #require(entry["file"] as? String)
            let expectedCase = try #require(entry["error"] as? String)
            let phrase = try #require(entry["message"] as? String)
            do {
                _ = try Checkpoint.open(Self.folder + "/malformed/" + name)
                Issue.record("\(name) opened")
            } catch let error as ZstdError {
                let label = Mirror(reflecting: error).children.first?.label
                #expect(label == expectedCase, "\(name): \(error)")
                #expect(error.description.contains(phrase), "\(name): \(error)")
                #expect(error.description.contains(name), "\(name): the message does not name the file: \(error)")
            }
            #expect(try Self.leftovers().isEmpty, "\(name) left a temporary file")
        }
    }

    @Test func offsetsAndSizesInMessages() throws {
        func message(_ name: String) -> String {
            do { _ = try Checkpoint.open(Self.folder + "/malformed/" + name) } catch { return "\(error)" }
            return ""
        }
        #expect(message("truncated_in_block.safetensors.zst").contains("ends at byte 234"))
        #expect(message("trailing_garbage.safetensors.zst").contains("near compressed byte 468 (after 1174 decompressed bytes)"))
        #expect(message("content_size_absurd.safetensors.zst").contains("declares 1152921504606846976 bytes"))
        #expect(message("wrong_magic.safetensors.zst").contains("(it starts with 88 03 00 00); it looks like a safetensors file"))
        #expect(message("inner_broken_safetensors.safetensors.zst").contains("inner_broken_safetensors.safetensors.zst (decompressed)': header length 1099511627776"))
    }

    @Test func detectionByMagic() {
        #expect(DetectedFormat.sniff([0x28, 0xB5, 0x2F, 0xFD, 0x00]) == .zstd)
        #expect(DetectedFormat.sniff([0x5A, 0x2A, 0x4D, 0x18, 0, 0, 0, 0]) == .zstd)
        #expect(DetectedFormat.sniff([0x28, 0xB5, 0x2F]) != .zstd)
        #expect(DetectedFormat.sniff([0x60, 0x2A, 0x4D, 0x18]) != .zstd)
    }

    @Test func outputNamesAndLevels() throws {
        #expect(try OutputCompression.resolve(output: "a.safetensors", option: nil) == nil)
        #expect(try OutputCompression.resolve(output: "d/a.safetensors", option: "zstd") == OutputCompression(path: "d/a.safetensors.zst", plainPath: "d/a.safetensors", level: 3))
        #expect(try OutputCompression.resolve(output: "a.safetensors.zst", option: nil) == OutputCompression(path: "a.safetensors.zst", plainPath: "a.safetensors", level: 3))
        #expect(try OutputCompression.resolve(output: "a.safetensors.ZST", option: "ZSTD:19") == OutputCompression(path: "a.safetensors.ZST", plainPath: "a.safetensors", level: 19))
        #expect(try OutputCompression.resolve(output: "a.safetensors", option: "zstd:1")?.level == 1)
        for bad in ["zstd:0", "zstd:20", "zstd:", "zstd:-1", "gzip", "zstd3"] {
            #expect(throws: ZstdError.self, "\(bad)") { try OutputCompression.resolve(output: "a.safetensors", option: bad) }
        }
        #expect(throws: ZstdError.self) { try OutputCompression.resolve(output: "out/", option: "zstd") }
    }

    @Test(.enabled(if: zstdTestsEnabled, "the zstd command is not installed (apt install zstd)"))
    func writtenFilesDecompressWithTheZstdCommand() throws {
        let zstd = try requireZstdCommand()
        let temporary = try makeTemporaryFolder("zstd-write")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        for source in ["all_dtypes", "small_model", "unicode_names"] {
            let input = fixturesFolder + "/safetensors/\(source).safetensors"
            let plain = temporary + "/\(source).plain.safetensors"
            try convert(input, to: plain, compress: nil)
            for level in [1, 3, 19] {
                let output = temporary + "/\(source).\(level).safetensors"
                let writer = try convert(input, to: output, compress: "zstd:\(level)")
                let plainSize = try fileBytes(plain).count
                let compressedSize = try fileBytes(output + ".zst").count
                #expect(writer?.uncompressedBytes == plainSize)
                #expect(writer?.compressedBytes == compressedSize)
                #expect(!FileManager.default.fileExists(atPath: output))
                let restored = temporary + "/restored"
                let result = try runProcess(zstd, ["-d", "-q", "-f", output + ".zst", "-o", restored])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try fileBytes(restored) == fileBytes(plain), "\(source) at level \(level)")
                // One frame with the content size and an XXH64 checksum, as `zstd FILE` writes.
                let listing = try runProcess(zstd, ["-lv", output + ".zst"]).stdout
                #expect(listing.contains("Check: XXH64"), "\(listing)")
                #expect(listing.contains("Decompressed Size:") && listing.contains("(\(plainSize) B)"), "\(listing)")
            }
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: temporary)
        #expect(!names.contains { $0.hasPrefix(".") }, "temporary files left: \(names)")
    }

    /// Compression on the fly of 24 MiB (several zstd jobs per worker; random halves and zero runs),
    /// one worker per core, and ckpt's decompression of the result (several output buffers).
    @Test(.enabled(if: zstdTestsEnabled, "the zstd command is not installed (apt install zstd)"))
    func multiThreadedCompressionOfALargerFileIsExact() throws {
        let zstd = try requireZstdCommand()
        let temporary = try makeTemporaryFolder("zstd-large")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        var state: UInt64 = 7
        var tensors: [(TensorInfo, [UInt8])] = []
        for index in 0..<6 {
            let info = try TensorInfo(name: "layer.\(index).weight", dtype: .bf16, shape: [1024, 2048])
            var bytes = [UInt8](repeating: 0, count: info.byteCount)
            if index % 2 == 0 {
                for position in stride(from: 0, to: bytes.count, by: 8) {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    withUnsafeBytes(of: state) { bytes.replaceSubrange(position..<(position + 8), with: $0) }
                }
            }
            tensors.append((info, bytes))
        }
        let input = temporary + "/input.safetensors"
        try writeSafeTensors(input, metadata: [("format", "pt")], tensors)
        let streamed = try #require(try convert(input, to: temporary + "/streamed.safetensors.zst", compress: nil))
        let inputSize = try fileBytes(input).count
        for name in ["streamed"] {
            let result = try runProcess(zstd, ["-d", "-q", temporary + "/\(name).safetensors.zst", "-o", temporary + "/\(name).restored"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try fileBytes(temporary + "/\(name).restored") == fileBytes(input), "\(name)")
            // ckpt reads its own output back (several output buffers of the decompressor).
            let reader = try #require(try Checkpoint.open(temporary + "/\(name).safetensors.zst") as? CompressedCheckpointReader)
            #expect(reader.decompressedBytes == inputSize)
            #expect(reader.tensors.map(\.name) == tensors.map(\.0.name))
            for index in tensors.indices {
                #expect(Array(try reader.data(at: index).bytes) == tensors[index].1, "\(name): \(tensors[index].0.name)")
            }
        }
        #expect(streamed.uncompressedBytes == inputSize)
        #expect(streamed.level == 3)
        let streamedSize = try fileBytes(temporary + "/streamed.safetensors.zst").count
        #expect(streamed.compressedBytes == streamedSize)
    }

    /// GGUF and PyTorch outputs are compressed on the fly too: `zstd -d` gives the file the plain
    /// conversion writes (GGUF, byte for byte) or one ckpt reads back with the same tensors (PyTorch,
    /// whose serialization id differs on every save).
    @Test(.enabled(if: zstdTestsEnabled, "the zstd command is not installed (apt install zstd)"))
    func everySingleFileFormatCompresses() throws {
        let zstd = try requireZstdCommand()
        let temporary = try makeTemporaryFolder("zstd-formats")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let input = fixturesFolder + "/safetensors/small_model.safetensors"
        let original = try Checkpoint.open(input)
        for name in ["model.gguf", "model.bin", "model.pt"] {
            try convert(input, to: temporary + "/plain-" + name, compress: nil)
            let writer = try #require(try convert(input, to: temporary + "/" + name, compress: "zstd:5"))
            #expect(!FileManager.default.fileExists(atPath: temporary + "/" + name))
            let result = try runProcess(zstd, ["-d", "-q", temporary + "/\(name).zst", "-o", temporary + "/restored-" + name])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            let restored = try fileBytes(temporary + "/restored-" + name)
            #expect(writer.uncompressedBytes == restored.count, "\(name)")
            if name.hasSuffix(".gguf") {
                #expect(restored == (try fileBytes(temporary + "/plain-" + name)))
                // GGUF knows its size up front: it is in the frame header.
                let listing = try runProcess(zstd, ["-lv", temporary + "/\(name).zst"]).stdout
                #expect(listing.contains("(\(restored.count) B)"), "\(listing)")
            }
            let reader = try Checkpoint.open(temporary + "/\(name).zst")
            #expect(reader.tensors.map(\.name) == original.tensors.map(\.name), "\(name)")
            for index in original.tensors.indices {
                #expect(Array(try reader.data(at: index).bytes) == Array(try original.data(at: index).bytes), "\(name): \(original.tensors[index].name)")
            }
        }
    }

    /// With the same libzstd, ckpt's output is the very file `zstd -T0 -LEVEL FILE` writes: same frame
    /// parameters (content size, checksum) and the multi-threaded job layout, whose output does not
    /// depend on the number of workers once there is one (checked: -T1, -T2, -T4 give one file).
    @Test(.enabled(if: zstdTestsEnabled, "the zstd command is not installed (apt install zstd)"))
    func outputIsByteIdenticalToTheZstdCommand() throws {
        let zstd = try requireZstdCommand()
        let version = try runProcess(zstd, ["--version"]).stdout
        try #require(version.contains("v\(ZstdFormat.libraryVersion),"), "the zstd command (\(version)) and libzstd \(ZstdFormat.libraryVersion) differ: outputs may legitimately differ")
        let temporary = try makeTemporaryFolder("zstd-identical")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let input = fixturesFolder + "/safetensors/small_model.safetensors"
        try convert(input, to: temporary + "/plain.safetensors", compress: nil)
        for level in [1, 3, 9, 19] {
            try convert(input, to: temporary + "/ours\(level).safetensors", compress: "zstd:\(level)")
            let result = try runProcess(zstd, ["-q", "-T0", "-\(level)", temporary + "/plain.safetensors", "-o", temporary + "/reference\(level).zst"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try fileBytes(temporary + "/ours\(level).safetensors.zst") == fileBytes(temporary + "/reference\(level).zst"), "level \(level)")
        }
    }

    @Test func refusedOrFailedWritesLeaveNothing() throws {
        let temporary = try makeTemporaryFolder("zstd-refused")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let input = fixturesFolder + "/safetensors/all_dtypes.safetensors"
        // Shards cannot be compressed into one file.
        let compression = try #require(try OutputCompression.resolve(output: temporary + "/x.safetensors", option: "zstd"))
        #expect(throws: ZstdError.self) {
            try compression.makeWriter(format: nil, shardSize: 100, carrying: CheckpointMetadata(), tensors: [], overwrite: false)
        }
        // An existing destination fails before any work, and is left alone.
        try writeBytes([1, 2, 3], to: temporary + "/x.safetensors.zst")
        #expect(throws: FileError.self) {
            try compression.makeWriter(format: nil, shardSize: nil, carrying: CheckpointMetadata(), tensors: [], overwrite: false)
        }
        #expect(try fileBytes(temporary + "/x.safetensors.zst") == [1, 2, 3])
        // A writer aborted half-way leaves neither a scratch file nor a partial output; compressing on
        // the fly never writes a plain copy at all.
        let reader = try Checkpoint.open(input)
        let writer = try compression.makeWriter(format: nil, shardSize: nil, carrying: CheckpointMetadata(), tensors: reader.tensors, overwrite: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: temporary)
        #expect(names.count == 2 && names.contains { $0.hasPrefix(".x.safetensors.zst.ckpt-tmp-") }, "\(names)")
        let first = try #require(writer.writeOrder.first)
        try writer.write(try reader.data(at: first).bytes)
        writer.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary) == ["x.safetensors.zst"])
        #expect(try fileBytes(temporary + "/x.safetensors.zst") == [1, 2, 3])
        // finish() with tensors missing fails and cleans up the same way.
        let incomplete = try compression.makeWriter(format: nil, shardSize: nil, carrying: CheckpointMetadata(), tensors: reader.tensors, overwrite: true)
        #expect(throws: WriterSequenceError.self) { try incomplete.finish() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary) == ["x.safetensors.zst"])
    }
}

/// Converts `input` unchanged into `output` (compressed when the name or `compress` asks).
@discardableResult
func convert(_ input: String, to output: String, compress: String?) throws -> StreamingCompressedWriter? {
    let reader = try Checkpoint.open(input)
    let plan = try ConversionPlan(tensors: reader.tensors, selection: TensorSelection(), floatDType: nil, intDType: nil)
    if let compression = try OutputCompression.resolve(output: output, option: compress) {
        let writer = try compression.makeWriter(format: nil, shardSize: nil, carrying: reader.metadata, tensors: plan.outputTensors, overwrite: false)
        try Converter(reader: reader, plan: plan).run(into: writer)
        return writer
    }
    let writer = try OutputTarget.resolve(path: output, format: nil, shardSize: nil).makeWriter(carrying: reader.metadata, tensors: plan.outputTensors, overwrite: false).writer
    try Converter(reader: reader, plan: plan).run(into: writer)
    return nil
}

/// Whether the tests that need the `zstd` command run: when it is installed, and always in CI
/// (CKPT_REQUIRE_PYTHON=1 asks for every reference tool), where its absence fails them with the reason.
let zstdTestsEnabled: Bool = {
    if ProcessInfo.processInfo.environment["CKPT_REQUIRE_PYTHON"] == "1" { return true }
    return (try? runProcess("zstd", ["--version"]))?.status == 0
}()

/// The `zstd` command, or a failure saying how to get it.
func requireZstdCommand() throws -> String {
    let result = try? runProcess("zstd", ["--version"])
    try #require(result?.status == 0, "the zstd command is needed (apt install zstd; .ci/setup installs it)")
    return "zstd"
}
