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
    /// Float32 sums that land exactly on a bfloat16 midpoint but are not exact: the kernel's one
    /// Float32 rounding would decide the tie, so those lanes must follow the exact sum. Expected bits
    /// by hand for w + sign·Δ (Δ = v, r = 1, scale 1); 24 columns cover the 8-lane loop and the tail.
    @Test(arguments: [1.0, -1.0])
    func bfloat16MidpointsFollowTheExactSum(sign: Double) {
        let up = sign > 0
        // up: w + Δ, down: w − Δ (checked with exact rationals); every sum is a Float32 tie.
        let cases: [(w: Float, delta: Float, up: UInt16, down: UInt16)] = [
            (1, 0x1p-8 + 0x1p-31, 0x3F81, 0x3F7F),  // just above the midpoint 1 + 2⁻⁸: away from 1
            (1, 0x1p-8 - 0x1p-32, 0x3F80, 0x3F7F),
            (1 + 0x1p-7, 0x1p-8 - 0x1p-32, 0x3F81, 0x3F81),  // the odd neighbour is nearest, not the even one
            (1, 0x1p-8, 0x3F80, 0x3F7F),  // an exact tie goes to even
            (-1, -0x1p-8 - 0x1p-31, 0xBF81, 0xBF7F),
            (0x1p20, 0x1p12 + 0x1p-10, 0x4981, 0x497F),
            (1 + 0x1p-6, 0x1p-8 + 0x1p-31, 0x3F83, 0x3F81),  // subtraction ties too
            (1 + 0x1p-6, 0x1p-8 - 0x1p-32, 0x3F82, 0x3F82),
            (-1 - 0x1p-6, -0x1p-8 + 0x1p-32, 0xBF82, 0xBF82),
        ]
        let n = 24
        for shift in 0..<cases.count {
            let row = (0..<n).map { cases[($0 + shift) % cases.count] }
            let w = row.map { HalfPrecision.f32BitsToBF16($0.w.bitPattern) }
            var out = [UInt16](repeating: 0, count: n), energy = (0.0, 0.0)
            let bad = ckpt_merge_lowrank_rows(w, Int32(CKPT_ROW_BF16), [1], 1, row.map(\.delta), n, 1, sign, n, 1, &out, Int32(CKPT_ROW_BF16), &energy.0, &energy.1)
            #expect(bad == -1)
            #expect(out == row.map { up ? $0.up : $0.down }, "shift \(shift), sign \(sign)")
        }
    }

    /// Sums within a few Float32 steps of a bfloat16 midpoint at many magnitudes, through the grouped
    /// four-row path (every row of a group shares Δ = V with r = 1, so w is drawn per column in Δ's
    /// binade): the fused kernel equals the separate steps (exact double sum, round to odd, bfloat16).
    @Test func nearMidpointsMatchTheSeparateSteps() {
        var random = SplitMix64(seed: 65_536)
        let n = 1_003, rows = 8
        var v = [Float](repeating: 0, count: n), w = [UInt16](repeating: 0, count: rows * n)
        for j in 0..<n {
            let binade = Float(sign: .plus, exponent: Int(random.next() % 60) - 30, significand: 1)
            let nudge = Float(Int(random.next() % 9) - 4) * binade * 0x1p-32 * Float(1 << Int(random.next() % 16))
            v[j] = (random.next() & 1 == 0 ? 1 : -1) * binade * 0x1p-8 + nudge
            for i in 0..<rows {
                let significand = 1 + Float(random.next() % 128) / 128
                w[i * n + j] = HalfPrecision.f32BitsToBF16(((random.next() & 1 == 0 ? 1 : -1) * binade * significand).bitPattern)
            }
        }
        for sign in [1.0, -1.0] {
            var expected: [UInt16] = [], energy = (0.0, 0.0), fusedEnergy = (0.0, 0.0)
            for i in 0..<rows {
                let wRow = w[(i * n)..<((i + 1) * n)].map { Float(bitPattern: HalfPrecision.bf16ToF32Bits($0)) }
                var merged = [Float](repeating: 0, count: n)
                #expect(ckpt_merge_row(wRow, v, 1, sign, n, 1, &merged, &energy.0, &energy.1) == -1)
                expected += merged.map { HalfPrecision.f32BitsToBF16($0.bitPattern) }
            }
            var out = [UInt16](repeating: 0, count: rows * n)
            let bad = ckpt_merge_lowrank_rows(w, Int32(CKPT_ROW_BF16), [Float](repeating: 1, count: rows), 1, v, n, 1, sign, n, rows,
                                              &out, Int32(CKPT_ROW_BF16), &fusedEnergy.0, &fusedEnergy.1)
            #expect(bad == -1)
            #expect(out == expected, "sign \(sign)")
            #expect(fusedEnergy.0.bitPattern == energy.0.bitPattern && fusedEnergy.1.bitPattern == energy.1.bitPattern)
        }
    }
    /// Float32 outputs: one Float32 addition equals the double sum rounded to Float32, also when the
    /// exponents of W and Δ differ by more than the 29 bits a double can add exactly, and for
    /// subnormals. Operands drawn over the whole exponent range, grouped rows of four.
    @Test func float32SumsMatchTheDoublePath() {
        var random = SplitMix64(seed: 2_026)
        func anyFloat() -> Float {
            let bits = UInt32(truncatingIfNeeded: random.next()) & 0x7F7F_FFFF  // finite, any exponent
            return Float(bitPattern: bits | (random.next() & 1 == 0 ? 0 : 0x8000_0000)) * 0x1p-1  // halved: no overflow
        }
        let n = 517, rows = 8
        let w = (0..<(rows * n)).map { _ in anyFloat() }, v = (0..<n).map { _ in anyFloat() }
        for sign in [1.0, -1.0] {
            var expected: [Float] = [], energy = (0.0, 0.0), fusedEnergy = (0.0, 0.0)
            for i in 0..<rows {
                var merged = [Float](repeating: 0, count: n)
                #expect(ckpt_merge_row(Array(w[(i * n)..<((i + 1) * n)]), v, 1, sign, n, 0, &merged, &energy.0, &energy.1) == -1)
                expected += merged
            }
            var out = [Float](repeating: 0, count: rows * n)
            #expect(ckpt_merge_lowrank_rows(w, Int32(CKPT_ROW_F32), [Float](repeating: 1, count: rows), 1, v, n, 1, sign, n, rows,
                                            &out, Int32(CKPT_ROW_F32), &fusedEnergy.0, &fusedEnergy.1) == -1)
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "sign \(sign)")
            #expect(fusedEnergy.0.bitPattern == energy.0.bitPattern && fusedEnergy.1.bitPattern == energy.1.bitPattern)
        }
    }
}
