import Testing
import Foundation
import CheckpointCore
import CheckpointFormats
import CheckpointLinalg
@testable import CheckpointSurgery

@Suite struct ExtractionTests {
    nonisolated(unsafe) static let optimal = RankFixtures.section("extract_optimal")

    func extract(rank: Int) throws -> ExtractOperation {
        let base = try Checkpoint.open(RankFixtures.rank + "/base")
        let tuned = try Checkpoint.open(RankFixtures.rank + "/tuned")
        return try ExtractOperation(base: base, tuned: tuned, options: .init(choice: .rank(rank), embedLoRA: true))
    }

    /// Every module's error is within 1 % of the optimal (float64 dense truncated SVD) error, and the
    /// reported error is the true one.
    @Test(arguments: [4, 6])
    func errorWithinOnePercentOfOptimal(rank: Int) throws {
        let operation = try extract(rank: rank)
        #expect(operation.results.count == 15)  // 14 projections + the embedding
        #expect(operation.modulesToSave == ["model.layers.0.input_layernorm"])
        for result in operation.results {
            let reference = try #require(Self.optimal[result.module]?["rank\(rank)"] as? Double, "\(result.module)")
            let norm = try #require(Self.optimal[result.module]?["norm"] as? Double)
            #expect(result.rank == rank)
            #expect(result.error <= 1.01 * reference + 1e-6 * norm, "\(result.module): \(result.error) vs optimal \(reference)")
            #expect(result.error >= reference * (1 - 1e-4), "\(result.module): below the optimum?")
            #expect(abs(result.norm - norm) <= 1e-5 * norm)
        }
        // The sketch was good enough for the projections (96 and 192 wide, rank ≤ 6 + noise).
        #expect(operation.results.filter { $0.method == "randomized" }.count >= 14)
    }

    /// A module whose spectrum is all noise fails the bound and is redone by a full SVD, giving the
    /// optimal error exactly.
    @Test func fallsBackToFullSVD() throws {
        var random = SeededGaussian(seed: 3)
        let noise = random.matrix(rows: 120, columns: 100)
        let decomposition = try DeltaDecomposition(noise, choice: .rank(5), maxRank: 128, tolerance: 1.01)
        #expect(decomposition.method == .full)
        let sigma = try ThinSVD(noise).sigma
        let optimal = sigma.dropFirst(5).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(decomposition.error - optimal) <= 1e-6 * optimal)
    }

    /// Same inputs and seed, same factors bit for bit.
    @Test func deterministic() throws {
        let first = try extract(rank: 4), second = try extract(rank: 4)
        #expect(first.output.modules.map(\.b) == second.output.modules.map(\.b))
        #expect(first.output.modules.map(\.a) == second.output.modules.map(\.a))
    }
}
