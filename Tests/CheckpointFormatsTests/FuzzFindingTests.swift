import Foundation
import Testing
import CheckpointCore
@testable import CheckpointFormats

/// Inputs the fuzzers found (docs/RELIABILITY.md), with the exact outcome they now get.
@Suite struct FuzzFindingTests {
    /// fuzz-zip, 2026-12-02: the memo-reuse bomb (a list holding the same list twice, nested) reached the
    /// 10M-visit limit only after 8.6 s (debug) while counting the tensors of skipped content; shared
    /// objects are now walked once, so the same refusal comes in milliseconds.
    @Test func memoReuseBombIsRefusedQuickly() throws {
        let path = fixturesFolder + "/torch/malicious/memo_reuse_bomb.pt"
        let start = Date()
        let error = #expect(throws: TorchError.self) { _ = try TorchReader(path: path) }
        #expect(Date().timeIntervalSince(start) < 1)
        #expect(error?.description == "'\(path)': data.pkl: pickle builds more than 10000000 objects (not a state dict; an object bomb?); refusing")
    }
}
