import CKernels
import Dispatch

/// Products of a large matrix with an 8-column block through `ckpt_skinny8_*`: one streaming pass
/// over A (a GEMM would first copy A into its packed layout, which for 8 columns costs more than
/// the arithmetic). Rows are split over two workers; the transposed product sums each worker's
/// rows into its own buffer and adds the two in a fixed order, so results do not depend on timing.
enum SkinnyProduct {
    static let width = 8

    /// A·G for G n×8.
    static func times(_ a: Matrix, _ g: Matrix) -> Matrix {
        var y = Matrix(rows: a.rows, columns: width)
        let m = a.rows, n = a.columns, parts = m >= 512 ? 2 : 1
        guard g.rows == n, g.columns == width, m > 0, n > 0 else { return y }
        a.elements.withUnsafeBufferPointer { ab in
            g.elements.withUnsafeBufferPointer { gb in
                y.elements.withUnsafeMutableBufferPointer { yb in
                    guard let ap = ab.baseAddress, let gp = gb.baseAddress, let yp = yb.baseAddress else { return }
                    nonisolated(unsafe) let (source, block, target) = (ap, gp, yp)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        let low = m * part / parts, high = m * (part + 1) / parts
                        ckpt_skinny8_nn(source + low * n, high - low, n, n, block, target + low * width)
                    }
                }
            }
        }
        return y
    }

    /// Aᵀ·X for X m×8.
    static func transposedTimes(_ a: Matrix, _ x: Matrix) -> Matrix {
        let m = a.rows, n = a.columns, parts = m >= 512 ? 2 : 1, size = n * width
        var h = Matrix(rows: n, columns: width)
        guard x.rows == m, x.columns == width, m > 0, n > 0 else { return h }
        var sums = [Float](repeating: 0, count: parts * size)
        a.elements.withUnsafeBufferPointer { ab in
            x.elements.withUnsafeBufferPointer { xb in
                sums.withUnsafeMutableBufferPointer { sb in
                    guard let ap = ab.baseAddress, let xp = xb.baseAddress, let sp = sb.baseAddress else { return }
                    nonisolated(unsafe) let (source, block, target) = (ap, xp, sp)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        let low = m * part / parts, high = m * (part + 1) / parts
                        ckpt_skinny8_tn(source + low * n, high - low, n, n, block + low * width, target + part * size)
                    }
                }
            }
        }
        for i in 0..<size {
            var total: Float = 0
            for part in 0..<parts { total += sums[part * size + i] }
            h.elements[i] = total
        }
        return h
    }
}
