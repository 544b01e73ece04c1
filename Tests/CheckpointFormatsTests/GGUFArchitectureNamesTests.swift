import Testing
import Foundation
@testable import CheckpointFormats

/// ckpt's Hugging Face ↔ llama.cpp name tables against gguf-py's own `TensorNameMap`: every tensor of
/// tiny transformers models of each architecture (and of Mistral, which llama.cpp converts as llama), with the name gguf-py gives it (or none), recorded
/// by fixtures/surgery-gguf/make_fixtures.py in arch_names.json.
@Suite struct GGUFArchitectureNamesTests {
    static let table: [String: [String: String?]] = {
        let path = fixturesFolder + "/surgery-gguf/arch_names.json"
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return [:] }
        return json.mapValues { names in names.mapValues { $0 as? String } }
    }()

    /// Models recorded under another name than their GGUF architecture (llama.cpp converts Mistral as llama).
    static let convertedAs = ["mistral": "llama"]

    @Test func everyMappedArchitectureIsRecorded() {
        #expect(Set(Self.table.keys) == Set(GGUFArchitectureNames.supported + Self.convertedAs.keys), "\(Self.table.keys)")
        #expect(GGUFArchitectureNames(architecture: "phi3") == nil && GGUFArchitectureNames(architecture: "mistral") == nil)
    }

    @Test(arguments: GGUFArchitectureNames.supported + GGUFArchitectureNamesTests.convertedAs.keys)
    func namesAgreeWithGGUFPy(_ architecture: String) throws {
        let names = try #require(GGUFArchitectureNames(architecture: Self.convertedAs[architecture] ?? architecture))
        let expected = try #require(Self.table[architecture])
        #expect(expected.count > 20)
        for (hf, gguf) in expected {
            let (module, suffix) = try #require(LlamaNames.splitSuffix(hf))
            let mine = names.ggufModule(module).map { $0 + suffix }
            #expect(mine == gguf, "\(architecture): \(hf) → \(mine ?? "none"), gguf-py says \(gguf ?? "none")")
            if let gguf, let (back, _) = LlamaNames.splitSuffix(gguf) {
                #expect(names.hfModule(back) == module, "\(architecture): \(gguf) back to \(names.hfModule(back) ?? "none")")
            }
        }
    }
}
