/// ggml's reference quantizers for Q4_K, Q5_K and Q6_K (`quantize_row_q*_K_ref`: what llama-quantize
/// runs without an importance matrix), written from the algorithm's description in ggml-quants.c.
///
/// Bit-exactness depends on evaluating every float operation in the reference's order with one rounding
/// each (sums accumulated left to right, `a*b*c` as `(a*b)*c`, no fused multiply-add), and on copying
/// the reference's integer conversions (`nearest_int`'s bit trick, `uint8_t`/`int8_t` truncation).
enum GGMLKQuantizers {
    static func quantizeQ4_K(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        quantizeWithMinimum(source, destination, blocks, fiveBit: false)
    }

    static func quantizeQ5_K(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        quantizeWithMinimum(source, destination, blocks, fiveBit: true)
    }

    // MARK: Q4_K / Q5_K: 8 sub-blocks of 32 with a 6-bit scale and a 6-bit minimum each

    private static func quantizeWithMinimum(
        _ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int, fiveBit: Bool
    ) {
        let nmax: Int32 = fiveBit ? 31 : 15
        let search: (rmin: Float, rdelta: Float, steps: Int) = fiveBit ? (-0.5, 0.1, 15) : (-1, 0.1, 20)
        let blockBytes = fiveBit ? 176 : 144
        let quantsAt = fiveBit ? 48 : 16
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { codes in
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 4 * 32) { lanes in
                guard let levels = codes.baseAddress, let scratch = lanes.baseAddress else { return }
                for index in 0..<blocks {
                    let x = source + index * 256
                    let block = destination + index * blockBytes
                    let fit = fitScalesAndMinimums(
                        x, levels, scratch, nmax: nmax, rmin: search.rmin, rdelta: search.rdelta, steps: search.steps)
                    let scales = fit.scales, mins = fit.minimums
                    var maxScale: Float = 0
                    var maxMin: Float = 0
                    for sub in 0..<8 {
                        if scales[sub] > maxScale { maxScale = scales[sub] }
                        if mins[sub] > maxMin { maxMin = mins[sub] }
                    }
                    let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
                    let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
                    let packed = block + 4
                    for byte in 0..<12 { GGMLField.storeByte(0, packed, byte) }
                    for sub in 0..<8 {
                        let ls = Swift.min(63, UInt8(truncatingIfNeeded: GGMLRounding.nearest(inverseScale * scales[sub])))
                        let lm = Swift.min(63, UInt8(truncatingIfNeeded: GGMLRounding.nearest(inverseMin * mins[sub])))
                        packScaleAndMinimum(sub, ls, lm, packed)
                    }
                    GGMLField.storeHalf(maxScale / 63, block, 0)
                    GGMLField.storeHalf(maxMin / 63, block, 2)
                    let d = GGMLField.half(block, 0)
                    let dmin = GGMLField.half(block, 2)
                    for sub in 0..<8 {
                        let (scale, min) = GGMLKQuants.scaleMin(sub, block, at: 4)
                        let dl = d * Float(scale)
                        // A zero scale keeps the levels of the fit (the reference skips the sub-block).
                        guard dl != 0 else { continue }
                        let ml = dmin * Float(min)
                        for l in 0..<32 {
                            let q = GGMLRounding.nearest((x[32 * sub + l] + ml) / dl)
                            levels[32 * sub + l] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(nmax, q)))
                        }
                    }
                    if fiveBit {
                        storeFiveBitLevels(levels, block, quantsAt: quantsAt)
                    } else {
                        for chunk in 0..<4 {
                            for l in 0..<32 {
                                let low = levels[64 * chunk + l], high = levels[64 * chunk + 32 + l]
                                GGMLField.storeByte(low | high << 4, block, quantsAt + 32 * chunk + l)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The inverse of `GGMLKQuants.scaleMin`: 6-bit scale and min of sub-block `sub` into the 12 bytes.
    @inline(__always)
    private static func packScaleAndMinimum(_ sub: Int, _ scale: UInt8, _ min: UInt8, _ packed: UnsafeMutableRawPointer) {
        if sub < 4 {
            GGMLField.storeByte(scale, packed, sub)
            GGMLField.storeByte(min, packed, sub + 4)
        } else {
            GGMLField.storeByte((scale & 0xF) | (min & 0xF) << 4, packed, sub + 4)
            GGMLField.storeByte(GGMLField.byte(packed, sub - 4) | (scale >> 4) << 6, packed, sub - 4)
            GGMLField.storeByte(GGMLField.byte(packed, sub) | (min >> 4) << 6, packed, sub)
        }
    }

    /// Q5_K: low nibbles in qs (two sub-blocks per 32 bytes), fifth bits in qh (bit 2c / 2c+1 for chunk c).
    @inline(__always)
    private static func storeFiveBitLevels(_ levels: UnsafeMutablePointer<UInt8>, _ block: UnsafeMutableRawPointer, quantsAt: Int) {
        for l in 0..<32 { GGMLField.storeByte(0, block, 16 + l) }
        for chunk in 0..<4 {
            let lowMask = UInt8(1) << UInt8(2 * chunk), highMask = UInt8(2) << UInt8(2 * chunk)
            for l in 0..<32 {
                var first = levels[64 * chunk + l], second = levels[64 * chunk + 32 + l]
                var high = GGMLField.byte(block, 16 + l)
                if first > 15 { first -= 16; high |= lowMask }
                if second > 15 { second -= 16; high |= highMask }
                GGMLField.storeByte(high, block, 16 + l)
                GGMLField.storeByte(first | second << 4, block, quantsAt + 32 * chunk + l)
            }
        }
    }

    typealias Lanes = SIMD8<Float>

    /// ggml's `make_qkx2_quants` (32 values, squared error) for the 8 sub-blocks of a super-block at
    /// once: lane s holds sub-block s, and each lane performs exactly the reference's sequence of float
    /// operations (its sums still run left to right), so the result is bit-identical while eight
    /// searches share each instruction. Levels in 0...nmax with a scale and a minimum ≤ 0, refined by
    /// trying `steps + 1` scales around nmax/(max − min) and keeping the weighted least-squares fit of
    /// lowest error. Writes the levels (sub-block-major) and returns the scales and negated minimums.
    @inline(__always)
    private static func fitScalesAndMinimums(
        _ source: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>, _ scratch: UnsafeMutablePointer<Lanes>,
        nmax: Int32, rmin: Float, rdelta: Float, steps: Int
    ) -> (scales: Lanes, minimums: Lanes) {
        let x = scratch, weights = scratch + 32, best = scratch + 64, trial = scratch + 96
        var sumSquares = Lanes(repeating: 0)
        for i in 0..<32 {
            for lane in 0..<8 { x[i][lane] = source[32 * lane + i] }
            sumSquares += x[i] * x[i]
        }
        var average = Lanes(repeating: 0)
        for lane in 0..<8 { average[lane] = (sumSquares[lane] / 32).squareRoot() }
        for i in 0..<32 {
            for lane in 0..<8 { weights[i][lane] = average[lane] + x[i][lane].magnitude }
        }

        var min = x[0], max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<32 {
            min = min.replacing(with: x[i], where: x[i] .< min)
            max = max.replacing(with: x[i], where: x[i] .> max)
            sumW += weights[i]
            sumX += weights[i] * x[i]
        }
        min = min.replacing(with: 0, where: min .> 0)
        // Lanes with no range keep levels 0, scale 0 (the reference returns at once); they never update.
        let flat = max .== min
        let top = Float(nmax)
        @inline(__always) func level(_ value: Lanes) -> Lanes {
            let shifted = unsafeBitCast(value + 12_582_912, to: SIMD8<Int32>.self)
            let nearest = (shifted & 0x007F_FFFF) &- 0x0040_0000
            return Lanes(pointwiseMax(SIMD8<Int32>(repeating: 0), pointwiseMin(SIMD8<Int32>(repeating: nmax), nearest)))
        }
        var iscale = Lanes(repeating: top) / (max - min)
        var scale = 1 / iscale
        var bestError = Lanes(repeating: 0)
        for i in 0..<32 {
            best[i] = level(iscale * (x[i] - min))
            let diff = scale * best[i] + min - x[i]
            bestError += weights[i] * (diff * diff)
        }
        for step in 0...steps {
            iscale = Lanes(repeating: rmin + rdelta * Float(step) + top) / (max - min)
            var sumL = Lanes(repeating: 0), sumL2 = Lanes(repeating: 0), sumXL = Lanes(repeating: 0)
            for i in 0..<32 {
                let l = level(iscale * (x[i] - min))
                trial[i] = l
                let w = weights[i]
                sumL += w * l
                sumL2 += w * l * l
                sumXL += w * l * x[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            let solvable = (determinant .> 0) .& .!flat
            guard any(solvable) else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            let positiveMin = thisMin .> 0
            thisMin = thisMin.replacing(with: 0, where: positiveMin)
            thisScale = thisScale.replacing(with: sumXL / sumL2, where: positiveMin)
            var error = Lanes(repeating: 0)
            for i in 0..<32 {
                let diff = thisScale * trial[i] + thisMin - x[i]
                error += weights[i] * (diff * diff)
            }
            let better = solvable .& (error .< bestError)
            guard any(better) else { continue }
            for i in 0..<32 { best[i] = best[i].replacing(with: trial[i], where: better) }
            bestError = bestError.replacing(with: error, where: better)
            scale = scale.replacing(with: thisScale, where: better)
            min = min.replacing(with: thisMin, where: better)
        }
        for i in 0..<32 {
            let row = best[i].replacing(with: 0, where: flat)
            for lane in 0..<8 { levels[32 * lane + i] = UInt8(truncatingIfNeeded: Int32(row[lane])) }
        }
        return (scale.replacing(with: 0, where: flat), -min)
    }

    // MARK: Q6_K: 16 groups of 16 with a signed 8-bit scale each

    static func quantizeQ6_K(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { codes in
            withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: 2 * 16) { lanes in
                guard let levels = codes.baseAddress, let scratch = lanes.baseAddress else { return }
                for index in 0..<blocks {
                    let x = source + index * 256
                    let block = destination + index * 210
                    let scales = fitSymmetric(x, levels, scratch)
                    var maxScale: Float = 0
                    var maxAbsScale: Float = 0
                    for group in 0..<16 {
                        let scale = scales[group]
                        if scale.magnitude > maxAbsScale {
                            maxAbsScale = scale.magnitude
                            maxScale = scale
                        }
                    }
                    guard maxAbsScale >= groupMaxEpsilon else {
                        for byte in 0..<210 { GGMLField.storeByte(0, block, byte) }
                        continue
                    }
                    let iscale = -128 / maxScale
                    GGMLField.storeHalf(1 / iscale, block, 208)
                    for group in 0..<16 {
                        let q = Swift.min(127, GGMLRounding.nearest(iscale * scales[group]))
                        GGMLField.storeByte(UInt8(truncatingIfNeeded: q), block, 192 + group)
                    }
                    let d = GGMLField.half(block, 208)
                    for group in 0..<16 {
                        let dl = d * Float(Int8(bitPattern: GGMLField.byte(block, 192 + group)))
                        guard dl != 0 else { continue }
                        for l in 0..<16 {
                            let q = Swift.max(-32, Swift.min(31, GGMLRounding.nearest(x[16 * group + l] / dl)))
                            levels[16 * group + l] = Int8(truncatingIfNeeded: q + 32)
                        }
                    }
                    for half in 0..<2 {
                        for l in 0..<32 {
                            let base = 128 * half + l
                            let q1 = UInt8(bitPattern: levels[base]), q2 = UInt8(bitPattern: levels[base + 32])
                            let q3 = UInt8(bitPattern: levels[base + 64]), q4 = UInt8(bitPattern: levels[base + 96])
                            GGMLField.storeByte((q1 & 0xF) | (q3 & 0xF) << 4, block, 64 * half + l)
                            GGMLField.storeByte((q2 & 0xF) | (q4 & 0xF) << 4, block, 64 * half + 32 + l)
                            let high = (q1 >> 4) & 3 | ((q2 >> 4) & 3) << 2 | ((q3 >> 4) & 3) << 4 | ((q4 >> 4) & 3) << 6
                            GGMLField.storeByte(high, block, 128 + 32 * half + l)
                        }
                    }
                }
            }
        }
    }

    /// ggml's `GROUP_MAX_EPS`: groups whose largest magnitude is below it count as all zero.
    private static let groupMaxEpsilon: Float = 1e-15

    /// ggml's `make_qx_quants(16, 32, x, L, rmse_type 1, no weights)` for the 16 groups of a super-block
    /// at once (lane g is group g, each lane doing the reference's operations in its order): signed
    /// levels −32...31 (stored +32) for the scale among 19 candidates around −32/max that maximises
    /// (Σw·x·l)²/Σw·l², w = x². Groups below `groupMaxEpsilon` get levels 0 and scale 0.
    @inline(__always)
    private static func fitSymmetric(
        _ source: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<Int8>, _ scratch: UnsafeMutablePointer<SIMD16<Float>>
    ) -> SIMD16<Float> {
        typealias Lanes = SIMD16<Float>
        let x = scratch, best = scratch + 16
        var max = Lanes(repeating: 0), amax = Lanes(repeating: 0)
        for i in 0..<16 {
            for lane in 0..<16 { x[i][lane] = source[16 * lane + i] }
            let magnitude = unsafeBitCast(unsafeBitCast(x[i], to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Lanes.self)
            let larger = magnitude .> amax
            amax = amax.replacing(with: magnitude, where: larger)
            max = max.replacing(with: x[i], where: larger)
        }
        let zero = amax .< groupMaxEpsilon
        @inline(__always) func level(_ value: Lanes) -> Lanes {
            let shifted = unsafeBitCast(value + 12_582_912, to: SIMD16<Int32>.self)
            let nearest = (shifted & 0x007F_FFFF) &- 0x0040_0000
            return Lanes(pointwiseMax(SIMD16<Int32>(repeating: -32), pointwiseMin(SIMD16<Int32>(repeating: 31), nearest)))
        }
        var sumLX = Lanes(repeating: 0), sumL2 = Lanes(repeating: 0)
        var iscale = Lanes(repeating: -32) / max
        for i in 0..<16 {
            let l = level(iscale * x[i])
            best[i] = l
            let w = x[i] * x[i]
            sumLX += w * x[i] * l
            sumL2 += w * l * l
        }
        var scale = (sumLX / sumL2).replacing(with: 0, where: sumL2 .== 0)
        var bestScore = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = Lanes(repeating: -(32 + 0.1 * Float(step))) / max
            sumLX = Lanes(repeating: 0)
            sumL2 = Lanes(repeating: 0)
            for i in 0..<16 {
                let l = level(iscale * x[i])
                let w = x[i] * x[i]
                sumLX += w * x[i] * l
                sumL2 += w * l * l
            }
            let better = (sumL2 .> 0) .& (sumLX * sumLX .> bestScore * sumL2) .& .!zero
            guard any(better) else { continue }
            for i in 0..<16 { best[i] = best[i].replacing(with: level(iscale * x[i]), where: better) }
            scale = scale.replacing(with: sumLX / sumL2, where: better)
            bestScore = bestScore.replacing(with: scale * sumLX, where: better)
        }
        for i in 0..<16 {
            let row = (best[i] + 32).replacing(with: 0, where: zero)
            for lane in 0..<16 { levels[16 * lane + i] = Int8(truncatingIfNeeded: Int32(row[lane])) }
        }
        return scale.replacing(with: 0, where: zero)
    }
}
