import XCTest
@testable import CheckpointLinalg

/// Seeded values so every run checks the same matrices.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1 }
}

func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix {
    var rng = SplitMix64(state: seed)
    var m = Matrix(rows: rows, columns: columns)
    for i in m.elements.indices { m.elements[i] = rng.float() }
    return m
}

func maxDifference(_ a: Matrix, _ b: Matrix) -> Float {
    zip(a.elements, b.elements).map { abs($0 - $1) }.max() ?? 0
}

final class LinalgTests: XCTestCase {
    func testGEMMMatchesDefinitionIncludingTransposesAndViews() throws {
        let a = randomMatrix(5, 3, seed: 1), b = randomMatrix(4, 3, seed: 2)
        let c = try GEMM.product(a, .none, b, .transposed)
        XCTAssertEqual(c.rows, 5); XCTAssertEqual(c.columns, 4)
        for i in 0..<5 {
            for j in 0..<4 {
                var sum = 0.0
                for k in 0..<3 { sum += Double(a[i, k]) * Double(b[j, k]) }
                XCTAssertEqual(Double(c[i, j]), sum, accuracy: 1e-6)
            }
        }
        // A view on rows 1..<3 of `a` with beta accumulation into a block of a wider matrix.
        var wide = Matrix(rows: 2, columns: 6)
        for i in wide.elements.indices { wide.elements[i] = 1 }
        try a.withView { av in
            try b.withView { bv in
                try wide.withMutableView { wv in
                    let block = MutableMatrixView(base: wv.base! + 2, rows: 2, columns: 4, leadingDimension: 6)
                    try GEMM.multiply(av.rows(1..<3), .none, bv, .transposed, into: block, alpha: 2, beta: 1)
                }
            }
        }
        for i in 0..<2 {
            XCTAssertEqual(wide[i, 0], 1); XCTAssertEqual(wide[i, 1], 1)
            for j in 0..<4 { XCTAssertEqual(wide[i, 2 + j], 1 + 2 * c[i + 1, j], accuracy: 1e-6) }
        }
        XCTAssertThrowsError(try GEMM.product(a, .none, b, .none)) { error in
            guard case LinalgError.shapeMismatch = error else { return XCTFail("\(error)") }
        }
    }

    func testThinQRReconstructsWithOrthonormalQAndNonNegativeDiagonal() throws {
        for (m, n) in [(7, 3), (3, 7), (5, 5)] {
            let a = randomMatrix(m, n, seed: UInt64(m * 10 + n))
            let qr = try ThinQR(a)
            let k = min(m, n)
            XCTAssertEqual(qr.q.rows, m); XCTAssertEqual(qr.q.columns, k)
            XCTAssertEqual(qr.r.rows, k); XCTAssertEqual(qr.r.columns, n)
            XCTAssertLessThan(maxDifference(try GEMM.product(qr.q, .none, qr.r, .none), a), 1e-5)
            XCTAssertLessThan(maxDifference(try GEMM.product(qr.q, .transposed, qr.q, .none), .identity(k)), 1e-5)
            for i in 0..<k {
                XCTAssertGreaterThanOrEqual(qr.r[i, i], 0)
                for j in 0..<i { XCTAssertEqual(qr.r[i, j], 0) }
            }
        }
    }

    func testThinSVDOfAKnownMatrix() throws {
        // [[3, 0], [4, 5]] has singular values 3√5 and √5.
        let a = try Matrix(rows: 2, columns: 2, elements: [3, 0, 4, 5])
        let svd = try ThinSVD(a)
        XCTAssertEqual(Double(svd.sigma[0]), 3 * 5.0.squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(Double(svd.sigma[1]), 5.0.squareRoot(), accuracy: 1e-5)
        XCTAssertLessThan(maxDifference(try svd.reconstructed(), a), 1e-5)
        // u₁ ∝ (1, 3)/√10 up to sign; the convention makes its largest entry positive.
        XCTAssertEqual(Double(svd.u[0, 0]), 1 / 10.0.squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(Double(svd.u[1, 0]), 3 / 10.0.squareRoot(), accuracy: 1e-5)
    }

    func testThinSVDOfRectangularMatricesIsOrthonormalAndSorted() throws {
        for (m, n) in [(9, 4), (4, 9)] {
            let a = randomMatrix(m, n, seed: 99)
            let svd = try ThinSVD(a)
            let k = min(m, n)
            XCTAssertLessThan(maxDifference(try svd.reconstructed(), a), 1e-5)
            XCTAssertLessThan(maxDifference(try GEMM.product(svd.u, .transposed, svd.u, .none), .identity(k)), 1e-5)
            XCTAssertLessThan(maxDifference(try GEMM.product(svd.vt, .none, svd.vt, .transposed), .identity(k)), 1e-5)
            XCTAssertEqual(svd.sigma, svd.sigma.sorted(by: >))
            let exact = try SingularValues.double(rows: m, columns: n, rowMajor: a.elements.map(Double.init))
            for (x, y) in zip(svd.sigma, exact) { XCTAssertEqual(Double(x), y, accuracy: 1e-5) }
        }
    }

    func testLowRankSVDEqualsTheDenseSpectrumAndIsDeterministic() throws {
        let b = randomMatrix(40, 6, seed: 5), a = randomMatrix(6, 30, seed: 6)
        let scale: Float = 0.75
        let svd = try LowRankSVD.ofProduct(b: b, a: a, scale: scale)
        XCTAssertEqual(svd.u.rows, 40); XCTAssertEqual(svd.u.columns, 6)
        XCTAssertEqual(svd.vt.rows, 6); XCTAssertEqual(svd.vt.columns, 30)
        var dense = [Double](repeating: 0, count: 40 * 30)
        for i in 0..<40 { for j in 0..<30 { for k in 0..<6 { dense[i * 30 + j] += Double(scale) * Double(b[i, k]) * Double(a[k, j]) } } }
        let exact = try SingularValues.double(rows: 40, columns: 30, rowMajor: dense)
        for i in 0..<6 { XCTAssertEqual(Double(svd.sigma[i]), exact[i], accuracy: 1e-4 * exact[0]) }
        XCTAssertLessThan(exact[6], 1e-9 * exact[0])
        let product = try GEMM.product(b, .none, a, .none, alpha: scale)
        XCTAssertLessThan(maxDifference(try svd.reconstructed(), product), 1e-4)
        let again = try LowRankSVD.ofProduct(b: b, a: a, scale: scale)
        XCTAssertEqual(again.u, svd.u); XCTAssertEqual(again.vt, svd.vt); XCTAssertEqual(again.sigma, svd.sigma)
        for column in 0..<6 {
            let entries = (0..<40).map { svd.u[$0, column] }
            let largest = entries.max { abs($0) < abs($1) } ?? 0
            XCTAssertGreaterThan(largest, 0)
        }
    }

    func testNonFiniteInputAndThreadCount() throws {
        var a = randomMatrix(3, 3, seed: 3)
        a[1, 1] = .nan
        XCTAssertThrowsError(try ThinSVD(a)) { XCTAssertEqual($0 as? LinalgError, .nonFinite(operation: "sgesdd")) }
        XCTAssertThrowsError(try ThinQR(a)) { XCTAssertEqual($0 as? LinalgError, .nonFinite(operation: "sgeqrf")) }
        let before = BLASThreads.count
        BLASThreads.count = 1
        XCTAssertEqual(BLASThreads.count, 1)
        BLASThreads.count = before
        XCTAssertTrue(LinalgError.lapack(routine: "sgesdd", info: 3).description.contains("did not converge"))
    }

    func testLowRankRowsIsAnFMAChainInRankOrder() throws {
        // 77 columns: two 32-wide register blocks, one 8-wide and a scalar tail of 5.
        for columns in [37, 77] {
            let u = randomMatrix(7, 5, seed: 11), v = randomMatrix(5, columns, seed: 12)
            let rows = try LowRankRows(u: u, v: v)
            var row = [Float](repeating: .nan, count: columns)
            for i in 0..<7 {
                row.withUnsafeMutableBufferPointer { rows.row(i, into: $0.baseAddress!) }
                for j in 0..<columns {
                    var expected: Float = 0
                    for k in 0..<5 { expected = expected.addingProduct(u[i, k], v[k, j]) }
                    XCTAssertEqual(row[j].bitPattern, expected.bitPattern, "row \(i) column \(j)")
                }
            }
        }
        XCTAssertThrowsError(try LowRankRows(u: randomMatrix(7, 5, seed: 11), v: randomMatrix(4, 3, seed: 1)))
    }
}
