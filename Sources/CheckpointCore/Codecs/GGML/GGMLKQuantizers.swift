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
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32) { codes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 16) { floats in
                guard let levels = codes.baseAddress, let weights = floats.baseAddress else { return }
                let trial = levels + 256
                let scales = weights + 32, mins = weights + 40
                for index in 0..<blocks {
                    let x = source + index * 256
                    let block = destination + index * blockBytes
                    var maxScale: Float = 0
                    var maxMin: Float = 0
                    for sub in 0..<8 {
                        let xs = x + 32 * sub
                        var sumSquares: Float = 0
                        for l in 0..<32 { sumSquares += xs[l] * xs[l] }
                        let average = (sumSquares / 32).squareRoot()
                        for l in 0..<32 { weights[l] = average + xs[l].magnitude }
                        let fit = fitScaleAndMinimum(
                            xs, weights, levels + 32 * sub, trial, nmax: nmax,
                            rmin: search.rmin, rdelta: search.rdelta, steps: search.steps)
                        scales[sub] = fit.scale
                        mins[sub] = fit.minimum
                        if fit.scale > maxScale { maxScale = fit.scale }
                        if fit.minimum > maxMin { maxMin = fit.minimum }
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

    /// ggml's `make_qkx2_quants` for 32 values (squared error): levels in 0...nmax with a scale and a
    /// minimum ≤ 0, refined by trying `steps + 1` scales around nmax/(max − min) and keeping the weighted
    /// least-squares fit of lowest error. Returns the scale and the negated minimum.
    @inline(__always)
    private static func fitScaleAndMinimum(
        _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<UInt8>,
        _ trial: UnsafeMutablePointer<UInt8>, nmax: Int32, rmin: Float, rdelta: Float, steps: Int
    ) -> (scale: Float, minimum: Float) {
        var min = x[0], max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<32 {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            sumW += weights[i]
            sumX += weights[i] * x[i]
        }
        if min > 0 { min = 0 }
        if max == min {
            for i in 0..<32 { levels[i] = 0 }
            return (0, -min)
        }
        // `min` moves to the best fit's minimum as the search goes, and the next trial scales from it.
        var iscale = Float(nmax) / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<32 {
            let l = Swift.max(0, Swift.min(nmax, GGMLRounding.nearest(iscale * (x[i] - min))))
            levels[i] = UInt8(truncatingIfNeeded: l)
            let diff = scale * Float(l) + min - x[i]
            bestError += weights[i] * (diff * diff)
        }
        for step in 0...steps {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<32 {
                let l = Swift.max(0, Swift.min(nmax, GGMLRounding.nearest(iscale * (x[i] - min))))
                trial[i] = UInt8(truncatingIfNeeded: l)
                let level = Float(l)
                let w = weights[i]
                sumL += w * level
                sumL2 += w * level * level
                sumXL += w * level * x[i]
            }
            let determinant = sumW * sumL2 - sumL * sumL
            guard determinant > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / determinant
            var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var error: Float = 0
            for i in 0..<32 {
                let diff = thisScale * Float(trial[i]) + thisMin - x[i]
                error += weights[i] * (diff * diff)
            }
            if error < bestError {
                for i in 0..<32 { levels[i] = trial[i] }
                bestError = error
                scale = thisScale
                min = thisMin
            }
        }
        return (scale, -min)
    }

    // MARK: Q6_K: 16 groups of 16 with a signed 8-bit scale each

    static func quantizeQ6_K(_ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int) {
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { codes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { groupScales in
                guard let levels = codes.baseAddress, let scales = groupScales.baseAddress else { return }
                for index in 0..<blocks {
                    let x = source + index * 256
                    let block = destination + index * 210
                    var maxScale: Float = 0
                    var maxAbsScale: Float = 0
                    for group in 0..<16 {
                        let scale = fitSymmetric(x + 16 * group, levels + 16 * group)
                        scales[group] = scale
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

    /// ggml's `make_qx_quants(16, 32, x, L, rmse_type 1, no weights)`: signed levels −32...31 (stored +32)
    /// for the scale among 19 candidates around −32/max that maximises (Σw·x·l)²/Σw·l², w = x².
    @inline(__always)
    private static func fitSymmetric(_ x: UnsafePointer<Float>, _ levels: UnsafeMutablePointer<Int8>) -> Float {
        let nmax: Int32 = 32
        var max: Float = 0, amax: Float = 0
        for i in 0..<16 where x[i].magnitude > amax {
            amax = x[i].magnitude
            max = x[i]
        }
        guard amax >= groupMaxEpsilon else {
            for i in 0..<16 { levels[i] = 0 }
            return 0
        }
        @inline(__always) func level(_ iscale: Float, _ i: Int) -> Int32 {
            Swift.max(-nmax, Swift.min(nmax - 1, GGMLRounding.nearest(iscale * x[i])))
        }
        var iscale = Float(-nmax) / max
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<16 {
            let l = level(iscale, i)
            levels[i] = Int8(truncatingIfNeeded: l + nmax)
            let w = x[i] * x[i]
            sumLX += w * x[i] * Float(l)
            sumL2 += w * Float(l) * Float(l)
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / max
            sumLX = 0
            sumL2 = 0
            for i in 0..<16 {
                let l = Float(level(iscale, i))
                let w = x[i] * x[i]
                sumLX += w * x[i] * l
                sumL2 += w * l * l
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<16 { levels[i] = Int8(truncatingIfNeeded: level(iscale, i) + nmax) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }
}
