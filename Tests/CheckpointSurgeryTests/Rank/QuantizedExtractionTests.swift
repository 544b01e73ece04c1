import Testing
import Foundation
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
@testable import CheckpointSurgery

/// `ckpt extract` on quantized GGUF pairs (fixtures/surgery-gguf/make_fixtures.py, gguf-py): tuned =
/// base + a known low-rank delta, both quantized. The extracted rank is the delta's, not the noise's.
@Suite struct QuantizedExtractionTests {
    static let folder = RankFixtures.folder + "/surgery-gguf"
    nonisolated(unsafe) static let expected: [String: [String: Any]] = {
        guard let data = FileManager.default.contents(atPath: folder + "/extract_expected.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else { return [:] }
        return object
    }()

    func extract(_ choice: ExtractOperation.Options.Choice) throws -> ExtractOperation {
        try ExtractOperation(base: try Checkpoint.open(Self.folder + "/extract_base.gguf"), tuned: try Checkpoint.open(Self.folder + "/extract_tuned.gguf"),
                             options: .init(choice: choice))
    }

    /// Asked for rank 8, every module keeps its true rank: the floor (from the values, here; from
    /// the stored block scales, in the script) equals gguf-py's, and the components below it are the
    /// ones reported dropped. The kept components are the optimal ones.
    @Test func keepsTheTrueRankAboveTheNoiseFloor() throws {
        let operation = try extract(.rank(8))
        #expect(Self.expected.count == 3)
        #expect(operation.results.count == 3)
        #expect(operation.unchanged == 1)  // the norm
        for result in operation.results {
            let reference = try #require(Self.expected[result.module + ".weight"], "\(result.module)")
            let rank = try #require(reference["rank"] as? Int), floor = try #require(reference["floor"] as? Double)
            let optimal = try #require(reference["optimal_error"] as? Double), norm = try #require(reference["norm"] as? Double)
            let sigma = try #require(reference["sigma"] as? [Double])
            #expect(result.rank == rank, "\(result.module)")
            #expect(abs(result.noiseFloor - floor) <= 1e-6 * floor, "\(result.module): floor \(result.noiseFloor) vs \(floor)")
            #expect(result.droppedBelowFloor == 8 - rank)
            #expect(sigma[rank - 1] > floor && sigma[rank] < floor)
            #expect(result.error <= 1.01 * optimal && result.error >= optimal * (1 - 1e-4), "\(result.module): \(result.error) vs \(optimal)")
            #expect(abs(result.norm - norm) <= 1e-5 * norm)
        }
    }

    /// The floor also caps the energy and ε rules, and a pair of float tensors has none.
    @Test func floorCapsEveryRule() throws {
        for choice in [ExtractOperation.Options.Choice.energy(0.9999), .epsilon(0)] {
            let operation = try extract(choice)
            for result in operation.results {
                #expect(result.rank == Self.expected[result.module + ".weight"]?["rank"] as? Int, "\(choice) \(result.module)")
                #expect(result.droppedBelowFloor > 0)
            }
        }
        let float = try ExtractOperation(base: try Checkpoint.open(RankFixtures.rank + "/base"), tuned: try Checkpoint.open(RankFixtures.rank + "/tuned"),
                                         options: .init(choice: .rank(4)))
        #expect(float.results.allSatisfy { $0.noiseFloor == 0 && $0.droppedBelowFloor == 0 })
    }

    /// The per-group step rule: Q8_0 blocks give d = max|x|/127, Q4_1 d = (max − min)/15.
    @Test func noiseEnergyFromGroups() throws {
        let q8 = try #require(QuantizationNoise.grid(.q8_0))
        let block = (0..<32).map { Float($0 - 16) * 0.5 }  // max |x| = 8 → d = 8/127
        #expect(abs(QuantizationNoise.energy(of: block + block, grid: q8) - 64 * (8.0 / 127) * (8.0 / 127) / 12) <= 1e-12)
        let q41 = try #require(QuantizationNoise.grid(.q4_1))
        #expect(abs(QuantizationNoise.energy(of: block, grid: q41) - 32 * (15.5 / 15) * (15.5 / 15) / 12) <= 1e-12)
        #expect(QuantizationNoise.grid(.iq4NL) == nil && QuantizationNoise.grid(.bf16) == nil)
        #expect(QuantizationNoise.floor(energy: 16 * 64 * 4, rows: 16, columns: 64) == 2 * (4 + 8))
    }
}
