import Testing
import CheckpointCore
@testable import CheckpointSurgery

/// The units `ckpt verify --against` measures merge errors in.
@Suite struct MergeErrorMeasureTests {
    @Test func ulpsOfTheOutputTypeWithItsSubnormalFloor() throws {
        let bf16 = try #require(MergeErrorMeasure(dtype: .bf16))
        #expect(bf16.ulp(at: 1.0) == 0x1p-7)
        #expect(bf16.ulp(at: 1.99) == 0x1p-7)
        #expect(bf16.ulp(at: 0x1p-130) == 0x1p-133)
        let f16 = try #require(MergeErrorMeasure(dtype: .f16))
        #expect(f16.ulp(at: 1e-6) == 0x1p-24)
        #expect(f16.ulp(at: 0) == 0x1p-24)
        #expect(try #require(MergeErrorMeasure(dtype: .f32)).ulp(at: 3.0) == 0x1p-22)
        // f64 outputs in f32 ulps: the merge forms ΔW in Float32.
        #expect(MergeErrorMeasure(dtype: .f64) == MergeErrorMeasure(dtype: .f32))
        #expect(try #require(MergeErrorMeasure(dtype: .f8E4M3)).ulp(at: 1.0) == 0x1p-3)
        #expect(MergeErrorMeasure(dtype: .i32) == nil)
        #expect(MergeErrorMeasure(dtype: .q2K) == nil)
        #expect(MergeErrorMeasure.defaultLimit(.bf16) == 1)
        #expect(MergeErrorMeasure.defaultLimit(.f32) == 4)
    }

    @Test func errorsInUlpsAtTheOperandScale() throws {
        let bf16 = try #require(MergeErrorMeasure(dtype: .bf16))
        let errors = bf16.errors(merged: [1.0, 0.5, .nan, .infinity], expected: [1.0 + 0x1p-8, 0.5, 0.25, .infinity], scale: [1.5, 4.0, 1.0, 1.0])
        #expect(errors == [0.5, 0, .infinity, 0])
    }

    /// Q8_0 levels are d·q with d = max|x| / 127: one level apart is one step.
    @Test func quantizedErrorsInStepsOfTheBlock() throws {
        let q8 = try #require(MergeErrorMeasure(dtype: .q8_0))
        #expect(q8.unit == "step")
        var expected = [Double](repeating: 0, count: 64)
        expected[0] = 127 * 0.01
        expected[32] = 127 * 0.5
        var merged = expected
        merged[1] = 0.01
        merged[33] = 1.0
        let errors = q8.errors(merged: merged, expected: expected, scale: [])
        #expect(abs(errors[1] - 1) < 1e-12)
        #expect(abs(errors[33] - 2) < 1e-12)
        #expect(errors.enumerated().allSatisfy { [1, 33].contains($0.offset) || $0.element == 0 })
    }
}
