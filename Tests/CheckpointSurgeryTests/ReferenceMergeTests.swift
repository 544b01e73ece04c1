import Testing
import Foundation
import CheckpointCore
@testable import CheckpointSurgery

/// kohya and MELoRA fixtures against float64 references computed by numpy in make_fixtures.py.
/// The error is measured in f32 ulps at max(|W|, |reference|) + |reference − W|, a lower bound of
/// the operands' scale (so a stricter measure than the issue's).
@Suite struct ReferenceMergeTests {
    static let cases: [(adapter: String, reference: String, scale: Double?)] = [
        ("kohya.safetensors", "kohya.reference-f64.safetensors", nil),
        ("melora-mytransformers.safetensors", "melora-mytransformers.reference-f64.safetensors", 0.75),
        ("melora-peft", "melora-peft.reference-f64.safetensors", nil),
    ]

    @Test(arguments: cases.indices)
    func mergeMatchesFloat64Reference(_ index: Int) throws {
        let c = Self.cases[index]
        let folder = try makeTemporaryFolder("reference")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (path, outcome) = try merge(base: fixture("llama-f32"), adapters: [fixture(c.adapter)], into: folder, meloraScale: c.scale)
        let ours = try LoadedTensors(path), reference = try LoadedTensors(fixture(c.reference)), base = try LoadedTensors(fixture("llama-f32"))
        #expect(outcome.changes.count == reference.values.count)
        var worst = 0.0
        for (name, expected) in reference.values {
            let result = try ours(name), w = try base(name)
            for j in expected.indices {
                let magnitude = max(abs(w[j]), abs(expected[j])) + abs(expected[j] - w[j])
                worst = max(worst, abs(result[j] - expected[j]) / ulp(at: magnitude, significandBits: 24))
            }
        }
        print("\(c.adapter): max error \(worst) f32 ulp at operand scale")
        #expect(worst <= 4)
        for (name, values) in base.values where reference.values[name] == nil { #expect(try ours(name) == values, "\(name) must be untouched") }
    }

    @Test func kohyaDoRAAxesAreReadFromTheShape() throws {
        let adapter = try Adapter.load(path: fixture("kohya.safetensors"))
        #expect(adapter.format == .kohya)
        let axes = Dictionary(uniqueKeysWithValues: adapter.deltas.compactMap { d in d.magnitude.map { (d.module, $0.axis) } })
        #expect(axes == ["lora_unet_model_layers_1_self_attn_v_proj": .perOutput, "lora_unet_model_layers_1_mlp_down_proj": .perInput])
        // alpha stored in fp16: 0.3 becomes 0.300048828125; the module without alpha gets α = r.
        let q = try #require(adapter.deltas.first { $0.module.hasSuffix("q_proj") })
        #expect(q.blocks[0].scale == 0.300048828125 / 4)
        let up = try #require(adapter.deltas.first { $0.module.hasSuffix("up_proj") })
        #expect(up.blocks[0].scale == 1)
    }

    @Test func meloraNeedsItsScaleAndBlocksAreDiagonal() throws {
        #expect { try Adapter.load(path: fixture("melora-mytransformers.safetensors")) } throws: { "\($0)".contains("--melora-scale") }
        let adapter = try Adapter.load(path: fixture("melora-peft"))
        #expect(adapter.format == .melora)
        let first = try #require(adapter.deltas.first)
        #expect(first.blocks.map(\.a.rows) == [1, 2, 1, 2])
        #expect(first.blocks.map(\.scale) == [2, 1, 4, 0.5])
        #expect(first.blocks.map(\.rowOffset) == [0, 8, 16, 24])
        #expect(first.blocks.map(\.columnOffset) == [0, 8, 16, 24])
    }
}
