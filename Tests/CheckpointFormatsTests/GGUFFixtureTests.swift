import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// ckpt's GGUF reader and writer against files made by gguf-py (fixtures/gguf, see its README):
/// every fact gguf-py's reader reports must match, the malformed corpus must fail with the listed
/// error, and rewriting any valid fixture must give gguf-py's bytes back.
@Suite struct GGUFFixtureTests {
    static let folder = fixturesFolder + "/gguf"

    nonisolated(unsafe) static let expected: [String: [String: Any]] = {
        guard let data = FileManager.default.contents(atPath: folder + "/expected.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return [:] }
        return object
    }()

    static var validFiles: [String] { expected.keys.sorted() }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func fixturesArePresent() {
        #expect(Self.validFiles.count >= 13)
    }

    @Test(arguments: validFiles)
    func readerMatchesGGUFPy(_ name: String) throws {
        let expected = try #require(Self.expected[name])
        let reader = try GGUFReader(path: Self.folder + "/" + name)
        #expect(Int(reader.header.version) == expected["version"] as? Int)
        #expect(reader.header.alignment == expected["alignment"] as? Int)
        let kvs = try #require(expected["kv"] as? [[String: Any]])
        #expect(reader.header.metadata.entries.count == kvs.count)
        for (entry, reference) in zip(reader.header.metadata.entries, kvs) {
            #expect(entry.key == reference["key"] as? String)
            let types = try #require(reference["types"] as? [String])
            #expect(entry.value.type.name == types[0], "\(entry.key)")
            var raw: [UInt8] = []
            try GGUFEncoding.appendValue(entry.value, key: entry.key, file: name, to: &raw)
            #expect(Self.hex(raw) == reference["raw"] as? String, "\(name): \(entry.key)")
        }
        let tensors = try #require(expected["tensors"] as? [[String: Any]])
        #expect(reader.tensors.count == tensors.count)
        for (index, reference) in tensors.enumerated() where index < reader.tensors.count {
            let entry = reader.header.tensors[index]
            #expect(entry.info.name == reference["name"] as? String)
            #expect(GGMLType.name(forID: entry.typeID) == reference["type"] as? String)
            #expect(entry.ne.map(Int.init) == reference["ne"] as? [Int])
            #expect(entry.info.shape == (reference["ne"] as? [Int])?.reversed())
            // gguf-py still sizes Q8_1 blocks at 40 bytes (the old layout); ggml's block is 36.
            if entry.info.dtype == .q8_1 {
                #expect(entry.info.byteCount == 2 * 8 * 36)
                continue
            }
            #expect(entry.info.byteCount == reference["n_bytes"] as? Int)
            #expect(reader.location(of: index).offset == reference["data_offset"] as? Int)
            #expect(SHA256.hex(try reader.data(at: index).bytes) == reference["sha256"] as? String, "\(name): \(entry.info.name)")
        }
    }

    /// Reading any gguf-py file and writing it back with our writer gives gguf-py's bytes (the version
    /// field excepted for the v2 file: writers always write 3).
    @Test(arguments: validFiles.filter { !$0.hasPrefix("split/") })
    func rewriteIsByteIdentical(_ name: String) throws {
        let temporary = try makeTemporaryFolder("gguf-rewrite")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let reader = try GGUFReader(path: Self.folder + "/" + name)
        let output = temporary + "/out.gguf"
        let writer = try GGUFWriter(destination: output, metadata: reader.header.metadata, tensors: reader.tensors, overwrite: false)
        for index in writer.writeOrder { try writer.write(try reader.data(at: index).bytes) }
        try writer.finish()
        var original = try fileBytes(Self.folder + "/" + name)
        if name == "v2.gguf" { original[4] = 3 }
        #expect(try fileBytes(output) == original)
    }

    @Test func goldenMinimalFileFromScratch() throws {
        let temporary = try makeTemporaryFolder("gguf-golden")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let output = temporary + "/min.gguf"
        let metadata = GGUFMetadata([GGUFKeyValue("general.architecture", .string("llama")), GGUFKeyValue("test.u32", .uint32(7))])
        let tensor = try TensorInfo(name: "a", dtype: .f32, shape: [2, 3])
        let writer = try GGUFWriter(destination: output, metadata: metadata, tensors: [tensor], overwrite: false)
        try floats([0, 1, 2, 3, 4, 5]).withUnsafeBytes { try writer.write($0) }
        try writer.finish()
        let bytes = try fileBytes(output)
        #expect(bytes.count == 192)
        #expect(bytes == (try fileBytes(Self.folder + "/min_f32.gguf")))
    }

    @Test func typedValuesOfEveryKind() throws {
        let metadata = try GGUFReader(path: Self.folder + "/all_kv_types.gguf").header.metadata
        #expect(metadata["t.u8"] == .uint8(200))
        #expect(metadata["t.i8"] == .int8(-100))
        #expect(metadata["t.u16"] == .uint16(60000))
        #expect(metadata["t.i16"] == .int16(-30000))
        #expect(metadata["t.u32"] == .uint32(4_000_000_000))
        #expect(metadata["t.i32"] == .int32(-2_000_000_000))
        #expect(metadata["t.f32"] == .float32(0.1))
        #expect(metadata["t.bool"] == .bool(true))
        #expect(metadata["t.str"] == .string("héllo\nworld"))
        #expect(metadata["t.u64"] == .uint64(18_000_000_000_000_000_000))
        #expect(metadata["t.i64"] == .int64(-9_000_000_000_000_000_000))
        #expect(metadata["t.f64"] == .float64(-2.5e-300))
        #expect(metadata["t.empty_str"] == .string([UInt8]()))
        #expect(metadata["t.bytes_str"] == .string([0xFF, 0xFE] + Array(" byte token ".utf8) + [0x80]))
        #expect(metadata["t.bytes_str"]?.text == nil)
        if case let .string(bytes)? = metadata["t.bytes_str"] {
            #expect(GGUFValue.escapedText(bytes) == "\\xff\\xfe byte token \\x80")
        }
        #expect(metadata["t.nested"] == .array(GGUFArray(elementType: .array, values: [
            .array(GGUFArray(elementType: .int32, values: [.int32(1), .int32(2)])),
            .array(GGUFArray(elementType: .int32, values: [.int32(3)])),
            .array(GGUFArray(elementType: .int32, values: [.int32(4), .int32(5), .int32(6)])),
        ])))
        #expect(metadata.nestedArrayKeys == ["t.nested", "t.nested_str"])
        #expect(metadata["t.f32_arr"] == .array(GGUFArray(elementType: .float32, values: [.float32(0.5), .float32(-1.25), .float32(.infinity)])))
    }

    static let manifest: [String: String] = {
        guard let data = FileManager.default.contents(atPath: folder + "/malformed/MANIFEST.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else { return [:] }
        return object
    }()

    @Test func malformedCorpusIsLargeEnough() {
        #expect(Self.manifest.count >= 25)
        #expect(Set(Self.manifest.values).count >= 25)
    }

    @Test(arguments: manifest.keys.sorted())
    func malformedFileFailsWithItsError(_ name: String) throws {
        let expected = try #require(Self.manifest[name])
        do {
            _ = try Checkpoint.open(Self.folder + "/malformed/" + name)
            Issue.record("\(name) was accepted")
        } catch let error as GGUFError {
            #expect(error.caseName == expected, "\(name): \(error)")
        } catch let error as Checkpoint.OpenError {
            #expect(expected == "unsupported", "\(name): \(error)")
        }
    }

    @Test func splitSetReadsAsOneCheckpoint() throws {
        for part in 1...3 {
            let reader = try Checkpoint.open(Self.folder + "/split/tiny-0000\(part)-of-00003.gguf")
            #expect(reader.format == .splitGGUF)
            #expect(reader.tensors.map(\.name) == ["t0", "t1", "t2", "t3", "t4"])
            for index in 0..<5 {
                let values = try reader.data(at: index).bytes.bindMemory(to: Float.self)
                #expect(values.allSatisfy { $0 == Float(index) })
            }
            #expect(reader.metadata.gguf?["general.name"] == .string("split"))
        }
    }

    @Test func splitNamesParse() {
        let parsed = GGUFSplitReader.parseSplitName("/a/b/model-00002-of-00013.gguf")
        #expect(parsed?.prefix == "/a/b/model" && parsed?.part == 2 && parsed?.count == 13)
        #expect(GGUFSplitReader.parseSplitName("model-2-of-13.gguf") == nil)
        #expect(GGUFSplitReader.splitName(prefix: "x", part: 3, count: 12) == "x-00003-of-00012.gguf")
    }
}
