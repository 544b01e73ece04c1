import Testing
@testable import CheckpointLinalg
import CKernels

/// The panel kernels against the plain loop they promise: one fma chain per element in index order
/// from +0, so the comparison is bit for bit, through the AVX-512 tiles (32 columns) where the CPU has
/// them, the AVX2 tiles (16 and 8 columns) for the rest, the padding
/// of other widths, the row tails, the inner blocking (n > 256, m > 128) and the split over threads
/// (the larger shapes).
@Suite struct PanelProductTests {
    static func reference(_ a: Matrix, _ transpose: Bool, _ p: Matrix) -> [Float] {
        let rows = transpose ? a.columns : a.rows, inner = transpose ? a.rows : a.columns, l = p.columns
        var out = [Float](repeating: 0, count: rows * l)
        for i in 0..<rows {
            for c in 0..<l {
                var s: Float = 0
                for j in 0..<inner { s = s.addingProduct(transpose ? a[j, i] : a[i, j], p[j, c]) }
                out[i * l + c] = s
            }
        }
        return out
    }

    @Test(arguments: [(13, 300, 21), (6, 16, 16), (1, 1, 1), (301, 700, 21), (130, 517, 64), (5, 3, 40), (61, 290, 24), (19, 40, 8), (7, 9, 42), (200, 1100, 48), (9, 600, 40)])
    func bitIdenticalToTheFMAChain(shape: (Int, Int, Int)) throws {
        let (m, n, l) = shape
        var random = SeededGaussian(seed: UInt64(m * 1000 + n))
        let a = random.matrix(rows: m, columns: n)
        let p = random.matrix(rows: n, columns: l), x = random.matrix(rows: m, columns: l)
        let y = try PanelProduct.times(a, p)
        #expect(y.rows == m && y.columns == l)
        #expect(y.elements == Self.reference(a, false, p))
        let h = try PanelProduct.transposedTimes(a, x)
        #expect(h.rows == n && h.columns == l)
        #expect(h.elements == Self.reference(a, true, x))
    }

    /// The kernel itself on a width that is not a multiple of 8 (the callers pad; its scalar column
    /// tail must give the same chain).
    @Test func unpaddedColumnTail() throws {
        var random = SeededGaussian(seed: 31)
        let (m, n, l) = (14, 270, 21)
        let a = random.matrix(rows: m, columns: n), p = random.matrix(rows: n, columns: l), x = random.matrix(rows: m, columns: l)
        var y = [Float](repeating: 0, count: m * l), h = [Float](repeating: 0, count: n * l)
        ckpt_panel_nn(a.elements, m, n, n, p.elements, l, &y)
        ckpt_panel_tn(a.elements, m, n, 0, n, x.elements, l, &h)
        #expect(y == Self.reference(a, false, p))
        #expect(h == Self.reference(a, true, x))
    }

    @Test func shapesAreChecked() throws {
        let a = Matrix(rows: 4, columns: 3)
        #expect(throws: LinalgError.self) { try PanelProduct.times(a, Matrix(rows: 4, columns: 2)) }
        #expect(throws: LinalgError.self) { try PanelProduct.transposedTimes(a, Matrix(rows: 3, columns: 2)) }
        // An empty inner dimension gives zeros, as a product of nothing.
        #expect(try PanelProduct.times(Matrix(rows: 2, columns: 0), Matrix(rows: 0, columns: 3)).elements == [Float](repeating: 0, count: 6))
    }

    @Test func finiteCheckSeesEveryNonFiniteValue() throws {
        var a = try Matrix(rows: 2, columns: 3, elements: [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -0.0, 1, 0])
        #expect(a.isFinite)
        for bad: Float in [.nan, .infinity, -.infinity, .signalingNaN] {
            for index in a.elements.indices {
                let kept = a.elements[index]
                a.elements[index] = bad
                #expect(!a.isFinite)
                a.elements[index] = kept
            }
        }
    }

    @Test func transposedCopiesForLAPACK() throws {
        var random = SeededGaussian(seed: 9)
        let a = random.matrix(rows: 37, columns: 19)
        let columnMajor = ColumnMajor.from(a)
        for i in 0..<37 { for j in 0..<19 { #expect(columnMajor[j * 37 + i] == a[i, j]) } }
        // The top-left 30 × 19 block of a buffer with leading dimension 37.
        let back = ColumnMajor.toMatrix(columnMajor, rows: 30, columns: 19, ld: 37)
        for i in 0..<30 { for j in 0..<19 { #expect(back[i, j] == a[i, j]) } }
    }
}

@Suite struct BLASThreadScopeTests {
    /// Nested scopes see one thread, and an error passes through. (That the count comes back is not
    /// asserted: tests running concurrently in this process open scopes of their own.)
    @Test func singleThreadScopeNests() throws {
        let inner = BLASThreads.single { BLASThreads.single { BLASThreads.count } }
        #expect(inner == 1)
        struct Failure: Error {}
        #expect(throws: Failure.self) { try BLASThreads.single { () throws(Failure) in throw Failure() } }
    }
}
