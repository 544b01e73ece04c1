import Testing
import Foundation
import CheckpointCore
@testable import CheckpointFormats

/// Damaged GGUF files end in a typed error, never a crash: every truncation of a header, and thousands of
/// seeded byte mutations (any trap would abort the test process).
@Suite struct GGUFRobustnessTests {
    static let folder = fixturesFolder + "/gguf"

    func open(_ bytes: [UInt8], at path: String) -> Bool {
        do {
            try writeBytes(bytes, to: path)
            let reader = try GGUFReader(path: path)
            // Whatever was accepted must be readable within the file.
            for index in reader.tensors.indices { _ = try reader.data(at: index) }
            return true
        } catch is GGUFError {
            return false
        } catch {
            Issue.record("untyped error \(error)")
            return false
        }
    }

    @Test func everyTruncationIsRefusedWithATypedError() throws {
        let temporary = try makeTemporaryFolder("gguf-truncate")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let bytes = try fileBytes(Self.folder + "/all_kv_types.gguf")
        var accepted = 0
        // Every cut in the first 256 bytes, then every 7th (a cut in each field kind of every entry).
        let lengths = Array(0..<256) + Array(stride(from: 256, to: bytes.count, by: 7))
        for length in lengths where open(Array(bytes[0..<length]), at: temporary + "/t.gguf") { accepted += 1 }
        // Only cuts inside the last tensor's trailing padding can still be valid files.
        #expect(accepted < 10)
    }

    @Test(arguments: ["min_f32.gguf", "all_kv_types.gguf", "all_types.gguf", "peft_lora.gguf"])
    func randomHeaderMutationsNeverCrash(_ name: String) throws {
        let temporary = try makeTemporaryFolder("gguf-mutate")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let original = try fileBytes(Self.folder + "/" + name)
        let header = try GGUFReader(path: Self.folder + "/" + name).header.dataStart
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return state >> 17 }
        var refused = 0
        for _ in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + Int(next() % 4)) {
                let position = Int(next() % UInt64(header))
                // Mostly small changes (counts, lengths, type ids), sometimes 0xFF runs.
                bytes[position] = next() % 3 == 0 ? 0xFF : UInt8(truncatingIfNeeded: next())
            }
            if !open(bytes, at: temporary + "/m.gguf") { refused += 1 }
        }
        #expect(refused > 0)
    }
}
