import Foundation
import Testing
import CheckpointCore
@testable import CheckpointFormats

/// Inputs the fuzzers found (docs/RELIABILITY.md), with the exact outcome they now get.
@Suite struct FuzzFindingTests {
    /// fuzz-zip, 2026-12-02: the memo-reuse bomb (a list holding the same list twice, nested) reached the
    /// visit limit (then 10M, now TorchStateDict.maxVisits) only after 8.6 s (debug) while counting the tensors of skipped content; shared
    /// objects are now walked once, so the same refusal comes in milliseconds.
    @Test func memoReuseBombIsRefusedQuickly() throws {
        let path = fixturesFolder + "/torch/malicious/memo_reuse_bomb.pt"
        let start = Date()
        let error = #expect(throws: TorchError.self) { _ = try TorchReader(path: path) }
        // A bound on a hang (the old walk took 8.6 s), not a speed measurement: generous for loaded CI.
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(error?.description == "'\(path)': data.pkl: pickle builds more than \(TorchStateDict.maxVisits) objects (not a state dict; an object bomb?); refusing")
    }

    /// fuzz-pickle, 2026-12-02: 100,000 EMPTY_LIST then 100,000 APPEND (a 200 kB data.pkl) took more than
    /// libFuzzer's 1 s under AddressSanitizer; without it the machine refuses it at depth 1000 in 0.4 s
    /// (debug), linear in the input: not a defect, kept as a bound on the refusal's cost.
    @Test func deepListNestingIsRefusedInLinearTime() throws {
        let bytes: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: 99_998) + [UInt8](repeating: 0x61, count: 99_997) + [0x2E]
        let start = Date()
        var machine = PickleMachine(data: bytes)
        let error = #expect(throws: PickleError.self) { _ = try machine.run() }
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(error?.description == "pickle nests containers deeper than 1000 levels (not a state dict; a nesting bomb?); refusing")
    }
}
