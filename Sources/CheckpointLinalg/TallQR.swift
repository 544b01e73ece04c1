import Dispatch

/// The thin QR of a tall panel on two threads (one TSQR step, Demmel et al., 2012): each half of
/// the rows is factorised by `ThinQR` on its own thread, the two stacked R factors (2l × l) once
/// more, and each half of Q is its half's Q times its block of that small Q. The same factorisation
/// as `ThinQR` (R with a non-negative diagonal) up to rounding, as stable as Householder, and the
/// split is always in two at m/2, so with OpenBLAS on one thread (`BLASThreads.single`, as the
/// randomized SVD runs it) the bits do not depend on the machine or on timing. For the randomized
/// SVD's panels, whose LAPACK QR otherwise runs on one core while the other waits.
enum TallQR {
    /// Below this many elements, or with halves shorter than 2l rows, `ThinQR` alone.
    static let parallelElements = 1 << 16

    /// Whether `factor` splits `a` (else it is `ThinQR`).
    static func splits(_ a: Matrix) -> Bool {
        a.columns > 0 && a.rows / 2 >= 2 * a.columns && a.rows * a.columns >= parallelElements
    }

    static func factor(_ a: Matrix) throws(LinalgError) -> ThinQR {
        let m = a.rows, l = a.columns, half = m / 2
        guard splits(a) else { return try ThinQR(a) }
        guard a.isFinite else { throw .nonFinite(operation: "sgeqrf") }
        let bounds = [0..<half, half..<m]
        let (top, bottom) = try TwoThreads.both({ () throws(LinalgError) in try ThinQR(a.rows(bounds[0])) },
                                                { () throws(LinalgError) in try ThinQR(a.rows(bounds[1])) })
        let stacked = try Matrix(rows: 2 * l, columns: l, elements: top.r.elements + bottom.r.elements)
        let small = try ThinQR(stacked)
        var q = Matrix(rows: m, columns: l)
        var failures = [LinalgError?](repeating: nil, count: 2)
        let halves = [top.q, bottom.q]
        q.elements.withUnsafeMutableBufferPointer { target in
            failures.withUnsafeMutableBufferPointer { failureBuffer in
                nonisolated(unsafe) let (target, failureSlots) = (target, failureBuffer)
                DispatchQueue.concurrentPerform(iterations: 2) { index in
                    let block = small.q.elements.withUnsafeBufferPointer {
                        MatrixView(base: $0.baseAddress.map { $0 + index * l * l }, rows: l, columns: l, leadingDimension: l).copy()
                    }
                    let rows = bounds[index]
                    let view = MutableMatrixView(base: target.baseAddress.map { $0 + rows.lowerBound * l }, rows: rows.count, columns: l, leadingDimension: l)
                    halves[index].withView { hv in
                        block.withView { bv in
                            do throws(LinalgError) { try GEMM.multiply(hv, .none, bv, .none, into: view) } catch { failureSlots[index] = error }
                        }
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
        return ThinQR(q: q, r: small.r)
    }
}

extension ThinSVD {
    /// The thin SVD of a tall panel as LAPACK's sgesdd computes it for m ≫ n (QR, SVD of R, U = Q·U_R),
    /// with the QR on two threads (`TallQR`); `ThinSVD(a)` where `TallQR` would not split.
    static func ofTallPanel(_ a: Matrix) throws(LinalgError) -> ThinSVD {
        guard TallQR.splits(a) else { return try ThinSVD(a) }
        let qr = try TallQR.factor(a)
        let small = try ThinSVD(qr.r)
        return ThinSVD(u: try GEMM.product(qr.q, .none, small.u, .none), sigma: small.sigma, vt: small.vt)
    }
}

extension Matrix {
    /// Rows `range` as a new matrix.
    func rows(_ range: Range<Int>) -> Matrix {
        var result = Matrix(rows: range.count, columns: columns)
        result.elements.replaceSubrange(0..<result.elements.count, with: elements[(range.lowerBound * columns)..<(range.upperBound * columns)])
        return result
    }
}
