import Testing
import CKernels
import CheckpointCore
import CheckpointLinalg

/// The one-pass merge kernel (decode, Δ row, merge, encode per cache-sized chunk) gives the same bits
/// and energies as the separate steps it replaces: `ckpt_lowrank_row_fma`, `ckpt_merge_row`, then
/// the codecs' f32 → bf16 rounding. Widths cross the kernel's 256-column chunks and every tail.
@Suite struct FusedMergeKernelTests {
    /// A value in [-1, 1) from the top 24 bits: exact in Float32.
    func uniform(_ random: inout SplitMix64) -> Float { Float(random.next() >> 40) / Float(1 << 24) * 2 - 1 }

    /// Six rows: one group of four that shares V, then two alone.
    @Test(arguments: [1, 3, 8, 37, 255, 256, 261, 515, 1030])
    func rowsMatchTheSeparateSteps(columns n: Int) throws {
        var random = SplitMix64(seed: UInt64(n))
        let r = 16, rows = 6
        let u = (0..<(rows * r)).map { _ in uniform(&random) }
        let v = (0..<(r * n)).map { _ in uniform(&random) * 0.05 }
        let wBF16 = (0..<(rows * n)).map { _ in HalfPrecision.f32BitsToBF16(uniform(&random).bitPattern) }
        let wF32 = (0..<(rows * n)).map { _ in uniform(&random) * 3 }
        for (sign, scale) in [(1.0, Float(2)), (-1.0, Float(0.37))] {
            for (inKind, outKind) in [(CKPT_ROW_BF16, CKPT_ROW_BF16), (CKPT_ROW_F32, CKPT_ROW_F32), (CKPT_ROW_BF16, CKPT_ROW_F32), (CKPT_ROW_F32, CKPT_ROW_BF16)] {
                let w = inKind == CKPT_ROW_BF16 ? wBF16.map { Float(bitPattern: HalfPrecision.bf16ToF32Bits($0)) } : wF32
                var p = [Float](repeating: 0, count: n), merged = [Float](repeating: 0, count: n)
                var expectedEnergy = (0.0, 0.0), energy = (0.0, 0.0)
                var expected: [UInt8] = []
                for row in 0..<rows {
                    let uRow = Array(u[(row * r)..<((row + 1) * r)]), wRow = Array(w[(row * n)..<((row + 1) * n)])
                    ckpt_lowrank_row_fma(uRow, Int32(r), v, n, n, &p)
                    let bad = ckpt_merge_row(wRow, p, scale, sign, n, outKind == CKPT_ROW_BF16 ? 1 : 0, &merged, &expectedEnergy.0, &expectedEnergy.1)
                    #expect(bad == -1)
                    expected += outKind == CKPT_ROW_BF16
                        ? merged.map { HalfPrecision.f32BitsToBF16($0.bitPattern) }.withUnsafeBytes { Array($0) }
                        : merged.withUnsafeBytes { Array($0) }
                }
                var out = [UInt8](repeating: 0, count: rows * n * 4)
                let input: [UInt8] = inKind == CKPT_ROW_BF16 ? wBF16.withUnsafeBytes { Array($0) } : wF32.withUnsafeBytes { Array($0) }
                let bad = out.withUnsafeMutableBytes { target in
                    input.withUnsafeBytes { source in
                        ckpt_merge_lowrank_rows(source.baseAddress, Int32(inKind), u, Int32(r), v, n, scale, sign, n, rows, target.baseAddress, Int32(outKind), &energy.0, &energy.1)
                    }
                }
                #expect(bad == -1)
                #expect(energy.0.bitPattern == expectedEnergy.0.bitPattern && energy.1.bitPattern == expectedEnergy.1.bitPattern)
                #expect(Array(out[0..<expected.count]) == expected, "n \(n), kinds \(inKind) → \(outKind), sign \(sign)")
            }
        }
    }

    /// The first bad element in row order: rows 2 and 3 of the first group of four overflow (their
    /// Δ reaches infinity at columns 100 and 500), rows 0 and 1 stay finite.
    @Test func reportsTheFirstNonFiniteElement() {
        let n = 600, r = 2, rows = 5
        var u = [Float](repeating: 1, count: rows * r)
        u[2 * r + 1] = 4
        u[3 * r + 1] = 4
        var v = [Float](repeating: 0.5, count: r * n)
        v[n + 100] = .greatestFiniteMagnitude
        v[n + 500] = .greatestFiniteMagnitude
        let w = [Float](repeating: 1, count: rows * n)
        var out = [Float](repeating: 0, count: rows * n)
        var energy = (0.0, 0.0)
        let bad = ckpt_merge_lowrank_rows(w, Int32(CKPT_ROW_F32), u, Int32(r), v, n, 1, 1, n, rows, &out, Int32(CKPT_ROW_F32), &energy.0, &energy.1)
        #expect(bad == 2 * n + 100)
    }
}
