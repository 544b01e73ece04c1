import Testing
import Foundation
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
@testable import CheckpointSurgery

@Suite struct SpectrumAndRuleTests {
    nonisolated(unsafe) static let lora = RankFixtures.section("lora")

    /// σ from factors equal numpy's float64 dense SVD of s·B·A to 1e-5 relative, for every module.
    @Test func spectraFromFactorsMatchDenseFloat64SVD() throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/lora")
        #expect(adapter.deltas.count == 14)
        #expect(Self.lora.count == 14)
        for delta in adapter.deltas {
            let reference = try #require(Self.lora[delta.module]?["sigma"] as? [Double], "\(delta.module)")
            let spectrum = try ModuleSpectrum(delta: delta)
            #expect(spectrum.sigma.count == 16)
            for (ours, theirs) in zip(spectrum.sigma, reference) {
                #expect(abs(ours - theirs) <= 1e-5 * theirs, "\(delta.module): \(ours) vs \(theirs)")
            }
        }
    }

    /// With a base: ‖ΔW‖_F/‖W‖_F and σ₁(ΔW)/σ₁(W) equal numpy's float64 values.
    @Test func baseRelativeNormsMatchFloat64() throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/lora")
        let base = try Checkpoint.open(RankFixtures.rank + "/base")
        let report = try RankReport(adapter: adapter, base: base, basePath: RankFixtures.rank + "/base")
        for module in report.modules {
            let entry = try #require(Self.lora[module.spectrum.module])
            let relative = try #require(entry["relative_norm"] as? Double), ratio = try #require(entry["spectral_ratio"] as? Double)
            #expect(abs((module.relativeNorm ?? 0) - relative) <= 1e-5 * relative, "\(module.spectrum.module)")
            #expect(abs((module.spectralRatio ?? 0) - ratio) <= 1e-5 * ratio, "\(module.spectrum.module): \(module.spectralRatio ?? 0) vs \(ratio)")
        }
    }

    /// kohya's sv_ratio / sv_fro / sv_cumulative (with its +1 and clamps) and PEFT's energy rule pick
    /// the ranks their own code picks on the same spectra.
    @Test func rulesMatchKohyaAndPEFT() throws {
        var checked = 0
        for (module, entry) in Self.lora {
            let sigma = try #require(entry["sigma"] as? [Double])
            let length = try #require(entry["length"] as? Int)
            let kohya = try #require(entry["kohya"] as? [String: Int])
            for (key, expected) in kohya {
                let parts = key.split(separator: " ")
                let parameter = try #require(Double(parts[1])), cap = try #require(Int(parts[3]))
                let rule: RankRule
                switch parts[0] {
                case "sv_ratio": rule = .kohyaRatio(parameter)
                case "sv_fro": rule = .kohyaFrobenius(parameter)
                default: rule = .kohyaCumulative(parameter)
                }
                #expect(rule.select(sigma: sigma, fullLength: length, maxRank: cap) == expected, "\(module) \(key)")
                checked += 1
            }
            let peft = try #require(entry["peft"] as? [String: Int])
            for (key, expected) in peft {
                #expect(RankRule.peftEnergy(try #require(Double(key))).select(sigma: sigma, fullLength: length, maxRank: length) == expected, "\(module) peft \(key)")
                checked += 1
            }
        }
        #expect(checked == 14 * (18 + 4))
    }

    @Test func kohyaEdgeCases() {
        // A zero matrix keeps rank 1; fixed ranks are capped; ratio counts strictly greater values.
        #expect(RankRule.kohyaFrobenius(0.9).select(sigma: [1e-7, 0], fullLength: 10, maxRank: 4) == 1)
        #expect(RankRule.fixed(8).select(sigma: [3, 2, 1], fullLength: 10, maxRank: 4) == 4)
        #expect(RankRule.kohyaRatio(2).select(sigma: [4, 2, 1.9], fullLength: 10, maxRank: 8) == 1)
        #expect(RankRule.kohyaRatio(2).select(sigma: [4, 2.1, 1.9], fullLength: 10, maxRank: 8) == 2)
        // sv_cumulative 0.5 on [1, 1, 1, 1]: the cumulative fraction reaches 0.5 at index 1, so 2.
        #expect(RankRule.kohyaCumulative(0.5).select(sigma: [1, 1, 1, 1], fullLength: 4, maxRank: 8) == 2)
        // A target never reached (nuclear fraction 1.0 + rounding) clamps to L.
        #expect(RankRule.kohyaCumulative(1.0).select(sigma: [3, 1], fullLength: 5, maxRank: 8) == 2)
        #expect(RankRule.epsilon(0.5).select(sigma: [3, 1, 0.4], fullLength: 5, maxRank: 8) == 2)
    }

    @Test func statisticsOfAKnownSpectrum() {
        let s = RankStatistics(sigma: [4, 2, 1, 1, 0], storedRank: 5, rows: 10, columns: 8)
        #expect(s.numericalRank == 4 && s.unusedRank == 1)
        #expect(abs(s.stableRank - 22.0 / 16) < 1e-12)
        #expect(abs(s.participationRatio - 484.0 / 274) < 1e-12)
        let p = [0.5, 0.25, 0.125, 0.125]
        let entropy = -p.reduce(0) { $0 + $1 * log($1) }
        #expect(abs(s.entropyRank - exp(entropy)) < 1e-12)
        // Energies 16, 4, 1, 1 of 22: 72.7 %, 90.9 %, 95.45 %, 100 %.
        #expect(s.energyRank90 == 2 && s.energyRank95 == 3 && s.energyRank99 == 4)
        #expect(abs(s.frobeniusNorm - 22.0.squareRoot()) < 1e-12 && s.spectralNorm == 4)
    }

    @Test func globalAllocationTakesTheLargestGainPerByte() {
        // Module 0 costs 10 bytes per component, module 1 costs 40.
        let sigma: [[Double]] = [[3, 2, 1], [10, 5, 1]]
        // Gains per byte: m0: 0.4 (σ=2), 0.1; m1: 0.625 (σ=5), 0.025.
        #expect(RankAllocation.allocate(sigma: sigma, bytesPerComponent: [10, 40], target: .budget(50)) == [1, 1])
        #expect(RankAllocation.allocate(sigma: sigma, bytesPerComponent: [10, 40], target: .budget(90)) == [1, 2])
        #expect(RankAllocation.allocate(sigma: sigma, bytesPerComponent: [10, 40], target: .budget(100)) == [2, 2])
        // Total energy 14 + 126 = 140; ranks [1, 1] keep 109 (77.9 %), then σ=5 → 134 (95.7 %).
        #expect(RankAllocation.allocate(sigma: sigma, bytesPerComponent: [10, 40], target: .energy(0.9)) == [1, 2])
        #expect(RankAllocation.allocate(sigma: sigma, bytesPerComponent: [10, 40], target: .energy(0.75)) == [1, 1])
    }
}
