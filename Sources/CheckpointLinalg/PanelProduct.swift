import CKernels
import Dispatch

/// The randomized SVD's passes, A·P and Aᵀ·X for panels of l columns, through `ckpt_panel_nn/tn`:
/// A is read in place (sgemm packs a copy of it on every call) and the work is split over threads
/// here, by rows of the result, so OpenBLAS's own threads do not spin between the passes. Each
/// element is one fma chain in index order, so the bits do not depend on the split or the CPU, and
/// the rounding is that of an inner product of length n (resp. m) that `RandomizedSVD` allows for.
enum PanelProduct {
    /// Pieces per pass: more than the cores so that a core slowed by other work is balanced by the
    /// others, few enough that each piece streams megabytes of A.
    static let pieces = 8
    /// Below this many multiply-adds a pass runs on the calling thread.
    static let serialWork = 1 << 22

    /// A·P for P n×l.
    static func times(_ a: Matrix, _ p: Matrix) throws(LinalgError) -> Matrix {
        let m = a.rows, n = a.columns, l = p.columns
        guard p.rows == n else { throw .shapeMismatch(operation: "panel product", details: "A \(m)×\(n), P \(p.rows)×\(l)") }
        // The kernel's vector strips are 16 and 8 columns wide; other columns go one at a time.
        if l % 8 != 0 { return try times(a, p.padded(to: (l + 7) / 8 * 8)).leftColumns(l) }
        var y = Matrix(rows: m, columns: l)
        guard m > 0, l > 0 else { return y }
        let parts = m * n * l < serialWork ? 1 : min(pieces, (m + 5) / 6)
        a.elements.withUnsafeBufferPointer { ab in
            p.elements.withUnsafeBufferPointer { pb in
                y.elements.withUnsafeMutableBufferPointer { yb in
                    guard let ap = ab.baseAddress, let yp = yb.baseAddress else { return }
                    // Workers write disjoint rows of y; the buffers outlive `concurrentPerform`.
                    nonisolated(unsafe) let (source, panel, target) = (ap, pb.baseAddress, yp)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        let low = m * part / parts, high = m * (part + 1) / parts
                        ckpt_panel_nn(source + low * n, high - low, n, n, panel, l, target + low * l)
                    }
                }
            }
        }
        return y
    }

    /// Aᵀ·X for X m×l.
    static func transposedTimes(_ a: Matrix, _ x: Matrix) throws(LinalgError) -> Matrix {
        let m = a.rows, n = a.columns, l = x.columns
        guard x.rows == m else { throw .shapeMismatch(operation: "panel product", details: "Aᵀ \(n)×\(m), X \(x.rows)×\(l)") }
        if l % 8 != 0 { return try transposedTimes(a, x.padded(to: (l + 7) / 8 * 8)).leftColumns(l) }
        var h = Matrix(rows: n, columns: l)
        guard n > 0, l > 0 else { return h }
        let parts = m * n * l < serialWork ? 1 : min(pieces, (n + 5) / 6)
        a.elements.withUnsafeBufferPointer { ab in
            x.elements.withUnsafeBufferPointer { xb in
                h.elements.withUnsafeMutableBufferPointer { hb in
                    guard let hp = hb.baseAddress else { return }
                    nonisolated(unsafe) let (source, panel, target) = (ab.baseAddress, xb.baseAddress, hp)
                    DispatchQueue.concurrentPerform(iterations: parts) { part in
                        // Pieces of whole 6-row tiles, so only the last one has a row tail.
                        let tiles = (n + 5) / 6
                        let low = min(tiles * part / parts * 6, n), high = min(tiles * (part + 1) / parts * 6, n)
                        ckpt_panel_tn(source, m, n, low, high, panel, l, target)
                    }
                }
            }
        }
        return h
    }
}

extension Matrix {
    /// This matrix with zero columns appended up to `width` (a zero column does not change the
    /// others' fma chains, so the product's columns keep their bits).
    func padded(to width: Int) -> Matrix {
        var result = Matrix(rows: rows, columns: width)
        for i in 0..<rows {
            result.elements.replaceSubrange((i * width)..<(i * width + columns), with: elements[(i * columns)..<(i * columns + columns)])
        }
        return result
    }

    /// The first `width` columns.
    func leftColumns(_ width: Int) -> Matrix {
        withView { $0.columns(0..<width).copy() }
    }
}
