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

    /// kohya-flattened paths of every module gguf-py names come back to the Hugging Face path.
    @Test(arguments: GGUFArchitectureNames.supported)
    func flattenedNamesUnflatten(_ architecture: String) throws {
        let names = try #require(GGUFArchitectureNames(architecture: architecture))
        for (hf, gguf) in try #require(Self.table[architecture]) where gguf != nil && hf.hasSuffix(".weight") {
            let module = String(hf.dropLast(".weight".count))
            #expect(names.hfModule(flattened: String(module.map { $0 == "." ? "_" : $0 })) == module, "\(architecture): \(module)")
        }
    }

    /// The architecture a config.json declares, as llama.cpp's converters choose it: architectures[0]
    /// (text_config's first), else model_type; Mistral is llama; a class ckpt has no table for names itself.
    @Test func configsDeclareTheirArchitecture() throws {
        for (folder, expected) in [("surgery-gguf/qwen2", "qwen2"), ("surgery-gguf/qwen3", "qwen3"), ("surgery-gguf/gemma", "gemma"), ("surgery/llama-f32", "llama")] {
            let source = try #require(try GGUFArchitectureSource.declared(byConfigAt: fixturesFolder + "/" + folder))
            #expect(source.architecture == expected, "\(folder): \(source)")
        }
        let gpt2 = try #require(try GGUFArchitectureSource.declared(byConfigAt: fixturesFolder + "/surgery/gpt2-f32/config.json"))
        #expect(gpt2.architecture == nil && gpt2.evidence.hasSuffix("(architectures: GPT2LMHeadModel)"))
        #expect(try GGUFArchitectureSource.declared(byConfigAt: fixturesFolder + "/surgery/lora") == nil)
        func declared(_ text: String) throws -> String? {
            try GGUFArchitectureSource.declared(by: JSONParser.parse(Array(text.utf8)), file: "c")?.architecture
        }
        #expect(try declared(#"{"model_type": "mistral"}"#) == "llama")
        #expect(try declared(#"{"architectures": ["Gemma2ForCausalLM"], "model_type": "llama"}"#) == "gemma2")
        #expect(try declared(#"{"text_config": {"architectures": ["Qwen3ForCausalLM"]}, "architectures": ["X"]}"#) == "qwen3")
        #expect(try declared(#"{"hidden_size": 4}"#) == nil)
        let qwen2 = GGUFArchitectureSource(architecture: "qwen2", evidence: "a"), gemma = GGUFArchitectureSource(architecture: "gemma", evidence: "b")
        #expect(throws: GGUFArchitectureSource.UnsupportedArchitecture.self) { try GGUFArchitectureSource.agreeing(qwen2, gemma) }
        #expect(try GGUFArchitectureSource.agreeing(nil, gemma) == gemma && GGUFArchitectureSource.agreeing(qwen2, qwen2) == qwen2)
        let phi3 = GGUFArchitectureSource(architecture: "phi3", evidence: "p")
        #expect(throws: GGUFArchitectureSource.UnsupportedArchitecture.self) { try phi3.names(for: "x") }
    }
}
