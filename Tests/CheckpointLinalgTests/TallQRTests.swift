import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import CheckpointLinalg

/// The two-thread QR and SVD of tall panels against LAPACK's on the whole panel.
@Suite struct TallQRTests {
    static func panel(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        var random = SeededGaussian(seed: seed)
        var a = random.matrix(rows: rows, columns: columns)
        // Graded columns (σ spread over three decades), as the sketch's panels have.
        for i in 0..<rows { for j in 0..<columns { a[i, j] *= Float(pow(10, -3 * Double(j) / Double(columns))) } }
        return a
    }

    @Test func splitQRIsAQRWithinRounding() throws {
        let a = Self.panel(rows: 3001, columns: 40, seed: 4)
        #expect(TallQR.splits(a))
        // As the randomized SVD runs it: OpenBLAS on one thread, whose bits do not depend on timing.
        let (split, whole) = try BLASThreads.single { () throws(LinalgError) in (try TallQR.factor(a), try ThinQR(a)) }
        #expect(split.q.rows == 3001 && split.q.columns == 40 && split.r.rows == 40 && split.r.columns == 40)
        // Orthonormal to Float32 rounding, R upper triangular with the same non-negative diagonal.
        #expect(split.q.orthonormalityDefect < 1e-5)
        for i in 0..<40 {
            #expect(split.r[i, i] >= 0)
            for j in 0..<i { #expect(split.r[i, j] == 0) }
            for j in i..<40 { #expect(abs(split.r[i, j] - whole.r[i, j]) <= 1e-4 * abs(whole.r[0, 0])) }
        }
        let product = try GEMM.product(split.q, .none, split.r, .none)
        var worst: Float = 0
        for i in a.elements.indices { worst = max(worst, abs(product.elements[i] - a.elements[i])) }
        #expect(worst <= 1e-5)
        // The same bits every time (a fixed split, whatever the threads).
        let again = try BLASThreads.single { () throws(LinalgError) in try TallQR.factor(a) }
        #expect(again.q == split.q && again.r == split.r)
    }

    @Test func smallPanelsAreThinQR() throws {
        let a = Self.panel(rows: 100, columns: 40, seed: 5)
        #expect(!TallQR.splits(a))
        let split = try TallQR.factor(a), whole = try ThinQR(a)
        #expect(split.q == whole.q && split.r == whole.r)
    }

    @Test func tallPanelSVDMatchesLAPACK() throws {
        let a = Self.panel(rows: 2500, columns: 48, seed: 6)
        let split = try ThinSVD.ofTallPanel(a), whole = try ThinSVD(a)
        for i in 0..<48 { #expect(abs(split.sigma[i] - whole.sigma[i]) <= 1e-5 * whole.sigma[0]) }
        let rebuilt = try split.reconstructed()
        var worst: Float = 0
        for i in a.elements.indices { worst = max(worst, abs(rebuilt.elements[i] - a.elements[i])) }
        #expect(worst <= 1e-5)
        #expect(split.u.orthonormalityDefect < 1e-5)
    }

    @Test func nonFiniteIsAnError() throws {
        var a = Self.panel(rows: 3001, columns: 40, seed: 7)
        a[2000, 3] = .nan
        #expect(throws: LinalgError.self) { try TallQR.factor(a) }
    }
}
