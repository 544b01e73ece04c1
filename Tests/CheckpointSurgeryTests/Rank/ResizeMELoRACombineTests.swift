import Testing
import Foundation
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
@testable import CheckpointSurgery

/// ΔW of a module densely in Double (test reference only).
func denseDelta(_ delta: ModuleDelta) -> [[Double]] {
    var result = Array(repeating: Array(repeating: 0.0, count: delta.inFeatures), count: delta.outFeatures)
    for block in delta.blocks {
        for i in 0..<block.b.rows {
            for j in 0..<block.a.columns {
                var sum = 0.0
                for k in 0..<block.a.rows { sum += Double(block.b[i, k]) * Double(block.a[k, j]) }
                result[block.rowOffset + i][block.columnOffset + j] += block.scale * sum
            }
        }
    }
    return result
}

func denseDelta(_ module: LoRAOutput.Module, scale: Double) -> [[Double]] {
    denseDelta(ModuleDelta(module: module.module, kind: .linear, outFeatures: module.b.rows, inFeatures: module.a.columns,
                           blocks: [.init(b: module.b, a: module.a, scale: scale, rowOffset: 0, columnOffset: 0)],
                           transposedInBase: false, kernel: [], magnitude: nil, bias: nil, biasScale: 0))
}

func maxDifference(_ x: [[Double]], _ y: [[Double]]) -> Double {
    zip(x, y).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
}

func maxMagnitude(_ x: [[Double]]) -> Double { x.map { $0.map(abs).max() ?? 0 }.max() ?? 0 }

@Suite struct ResizeTests {
    nonisolated(unsafe) static let kohya = RankFixtures.section("kohya_resize")

    /// ckpt resize on a kohya file keeps the ranks and alphas kohya's resize_lora picks, and reports
    /// its retained figures.
    @Test(arguments: ["sv_fro 0.9", "sv_ratio 4.0", "sv_cumulative 0.8", "None None"])
    func kohyaResizeMatchesKohya(_ key: String) throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/kohya.safetensors")
        let selection: ResizeOperation.Selection
        switch key {
        case "sv_fro 0.9": selection = .rule(.kohyaFrobenius(0.9), maxRank: 16)
        case "sv_ratio 4.0": selection = .rule(.kohyaRatio(4), maxRank: 16)
        case "sv_cumulative 0.8": selection = .rule(.kohyaCumulative(0.8), maxRank: 16)
        default: selection = .rule(.fixed(6), maxRank: 6)
        }
        let operation = try ResizeOperation(adapter: adapter, selection: selection, dtype: .f32, useRSLoRA: false)
        #expect(operation.results.count == 14)
        for result in operation.results {
            let expected = try #require(Self.kohya[result.module]?[key] as? [String: Any], "\(result.module)")
            #expect(result.newRank == expected["new_rank"] as? Int, "\(result.module) \(key)")
            #expect(abs(result.newAlpha - (expected["new_alpha"] as? Double ?? .nan)) < 1e-9)
            #expect(abs(result.sumRetained - (expected["sum_retained"] as? Double ?? .nan)) < 1e-5)
            #expect(abs(result.frobeniusRetained - (expected["fro_retained"] as? Double ?? .nan)) < 1e-5)
            #expect(abs(result.maxRatio - (expected["max_ratio"] as? Double ?? .nan)) < 1e-4 * result.maxRatio)
        }
    }

    /// The resized delta is the truncated SVD of the original and the scale α/r is unchanged.
    @Test func resizedDeltaIsTheTruncation() throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/lora")
        let operation = try ResizeOperation(adapter: adapter, selection: .rule(.fixed(5), maxRank: 5), dtype: .f32, useRSLoRA: false)
        for (delta, module) in zip(adapter.deltas, operation.output.modules) {
            #expect(module.rank == 5 && module.alpha == 10)  // 32/16 · 5
            let spectrum = try ModuleSpectrum(delta: delta)
            let resized = try LowRankSVD.ofProduct(b: module.b, a: module.a, scale: Float(module.alpha / 5))
            for i in 0..<5 { #expect(abs(Double(resized.sigma[i]) - spectrum.sigma[i]) <= 1e-5 * spectrum.sigma[0]) }
        }
    }
}

extension ResizeTests {
    /// A MELoRA adapter is resized block by block: each block keeps its own top singular components,
    /// with its scale baked in.
    @Test func meloraResizesBlockByBlock() throws {
        let adapter = try Adapter.load(path: RankFixtures.folder + "/surgery/melora-peft")
        let operation = try ResizeOperation(adapter: adapter, selection: .rule(.fixed(1), maxRank: 1), dtype: .f32, useRSLoRA: false)
        #expect(operation.meloraModules.count == adapter.deltas.count)
        for (delta, resized) in zip(adapter.deltas, operation.meloraModules) {
            #expect(resized.blocks.map { $0.a.rows } == [1, 1, 1, 1])
            for (original, block) in zip(delta.blocks, resized.blocks) {
                #expect(block.scale == 1 && block.rowOffset == original.rowOffset && block.columnOffset == original.columnOffset)
                let top = try LowRankSVD.ofProduct(b: original.b, a: original.a, scale: Float(original.scale)).sigma[0]
                let kept = try LowRankSVD.ofProduct(b: block.b, a: block.a, scale: 1).sigma
                #expect(kept.count == 1 && abs(kept[0] - top) <= 1e-5 * top)
            }
        }
        #expect(operation.results.allSatisfy { $0.oldRank == 6 && $0.newRank == 4 })
    }
}

@Suite struct MELoRAAndCombineTests {
    nonisolated(unsafe) static let lora = RankFixtures.section("lora")

    /// The reported off-diagonal energy and block tails equal numpy's float64 values.
    @Test(arguments: [2, 4])
    func lostEnergyMatchesFloat64(splits: Int) throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/lora")
        let split = try MELoRASplit(adapter: adapter, splits: splits, totalRank: 16, allocation: .equal)
        for result in split.results {
            let reference = try #require((Self.lora[result.module]?["melora"] as? [String: Any])?["\(splits)"] as? [String: Any])
            let fraction = try #require(reference["off_diagonal_fraction"] as? Double)
            let tails = try #require(reference["block_tail_energy"] as? [Double])
            #expect(result.blockRanks == Array(repeating: 16 / splits, count: splits))
            #expect(abs(result.offDiagonalFraction - fraction) < 1e-5, "\(result.module)")
            for (ours, theirs) in zip(result.blockTailEnergy, tails) { #expect(abs(ours - theirs) <= 1e-4 * result.energy, "\(result.module)") }
        }
    }

    /// join(split(x)) is the block-diagonal projection of x when the blocks keep their full rank.
    @Test func joinOfSplitIsTheBlockDiagonalProjection() throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/lora")
        let split = try MELoRASplit(adapter: adapter, splits: 2, totalRank: 32, allocation: .equal)
        for (entry, delta) in zip(split.modules, adapter.deltas) {
            var blockDelta = delta
            blockDelta.blocks = entry.blocks
            let joined = denseDelta(MELoRAJoin.module(blockDelta), scale: 1)
            var projection = denseDelta(delta)
            let (rows, columns) = (delta.outFeatures / 2, delta.inFeatures / 2)
            for i in projection.indices { for j in projection[i].indices where (i < rows) != (j < columns) { projection[i][j] = 0 } }
            #expect(maxDifference(joined, projection) <= 1e-5 * maxMagnitude(projection), "\(delta.module)")
        }
    }

    /// A block-diagonal LoRA (MELoRA made by the surgery fixtures) joins exactly and splits back
    /// without loss.
    @Test func blockDiagonalSplitsLosslessly() throws {
        let melora = try Adapter.load(path: RankFixtures.folder + "/surgery/melora-peft")
        let joined = LoRAOutput(modules: melora.deltas.map(MELoRAJoin.module), dtype: .f32)
        let folder = try RankFixtures.temporaryFolder("join")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try PEFTAdapterWriter.write(joined, folder: folder, template: nil, overwrite: false)
        let lora = try Adapter.load(path: folder)
        for (original, plain) in zip(melora.deltas, lora.deltas) {
            #expect(maxDifference(denseDelta(original), denseDelta(plain)) <= 1e-6 * maxMagnitude(denseDelta(original)))
        }
        let split = try MELoRASplit(adapter: lora, splits: 4, totalRank: 6, allocation: .energy)
        for (result, entry) in zip(split.results, split.modules) {
            #expect(result.blockRanks == [1, 2, 1, 2])
            // Energies come from Float32 spectra (whole ΔW against its blocks), whose difference has a
            // noise floor near 1e-8 of ‖ΔW‖²; a split that drops anything real loses orders more.
            #expect(result.lostFraction < 1e-6)
            let original = try #require(melora.deltas.first { $0.module == result.module })
            var resplit = original
            resplit.blocks = entry.blocks
            #expect(maxDifference(denseDelta(resplit), denseDelta(original)) <= 1e-5 * maxMagnitude(denseDelta(original)))
        }
    }

    @Test func nonDivisibleSplitsListTheValidOnes() throws {
        let adapter = try Adapter.load(path: RankFixtures.rank + "/lora")
        #expect(MELoRASplit.validSplits(adapter.deltas) == [2, 3, 4, 6, 8, 12, 16, 24, 48])
        #expect(throws: LowRankEditError.self) { try MELoRASplit(adapter: adapter, splits: 5, totalRank: nil, allocation: .equal) }
    }

    /// combine(a, b) with weights is the exact weighted sum, recompressed losslessly.
    @Test func combineIsTheExactWeightedSum() throws {
        let first = try Adapter.load(path: RankFixtures.rank + "/lora")
        let second = try Adapter.load(path: RankFixtures.folder + "/surgery/lora")
        // Different models: combine the rank fixture with itself and a rescaled copy.
        let operation = try CombineOperation(adapters: [first, first], weights: [0.25, 0.5], rank: nil, dtype: .f32, useRSLoRA: false)
        #expect(!second.deltas.isEmpty)
        for (delta, module) in zip(first.deltas, operation.output.modules) {
            #expect(module.rank == 16)  // the sum of one LoRA with itself has the same rank
            let expected = denseDelta(delta).map { $0.map { $0 * 0.75 } }
            let combined = denseDelta(module, scale: module.alpha / Double(module.rank))
            #expect(maxDifference(combined, expected) <= 1e-5 * maxMagnitude(expected), "\(delta.module)")
        }
        #expect(throws: LowRankEditError.self) { try CombineOperation(adapters: [first, second], weights: [1, 1], rank: nil, dtype: .f32, useRSLoRA: false) }
    }
}
