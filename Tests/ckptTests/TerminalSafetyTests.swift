import Foundation
import Testing

/// Names and metadata are printed with control characters escaped by every command: the fixture's
/// tensor names, metadata and kohya module names carry ANSI colour, clear-screen, OSC title and BEL
/// sequences (made by the safetensors package: fixtures/reliability/make_reliability_fixtures.py).
@Suite struct TerminalSafetyTests {
    private let names = repositoryFixtures + "/reliability/escape_names.safetensors"
    private let kohya = repositoryFixtures + "/reliability/escape_kohya.safetensors"

    private func expectEscaped(_ arguments: [String], status: Int32, mentions: String) throws {
        let run = try ckpt(arguments)
        let output = run.stdout + run.stderr
        #expect(run.status == status, "\(arguments): \(run.stderr)")
        #expect(!output.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x08 }, "\(arguments) printed a raw control character")
        #expect(output.contains(mentions), "\(arguments)")
    }

    @Test func everyReportEscapesControlCharacters() throws {
        let folder = try temporaryFolder("terminal")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try expectEscaped(["inspect", names, "--tensors"], status: 0, mentions: "model.\\u{1b}[31mred\\u{1b}[0m.weight")
        try expectEscaped(["inspect", names], status: 0, mentions: "note\\u{1b}[5m = value\\u{1b}[1;1H\\r\\u{8}bell\\u{7}")
        try expectEscaped(["verify", names, "--sha256"], status: 1, mentions: "title\\u{1b}]0;pwned\\u{7}.bias: 1 NaN and 0 infinite values among 2")
        try expectEscaped(["convert", names, folder + "/out.gguf"], status: 0, mentions: "wrote")
        try expectEscaped(["inspect", folder + "/out.gguf", "--tensors"], status: 0, mentions: "clear\\u{1b}[2J\\u{1b}[H.weight")
        try expectEscaped(["convert", names, folder + "/dup.safetensors", "--rename", ".*=x"], status: 2, mentions: "'title\\u{1b}]0;pwned\\u{7}.bias'")
        try expectEscaped(["rank", kohya], status: 0, mentions: "lora_unet_\\u{1b}[41mblock")
        try expectEscaped(["resize", kohya, "-o", folder + "/r.safetensors", "--rank", "1"], status: 0, mentions: "lora_unet_\\u{1b}[41mblock")
        try expectEscaped(["merge", names, kohya, "-o", folder + "/m.safetensors"], status: 3, mentions: "module 'lora_unet_\\u{1b}[41mblock' matches no tensor")
    }
}
