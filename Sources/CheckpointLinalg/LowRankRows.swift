import CKernels

/// Rows of a low-rank product `U·V` (U is m×r, V is r×n) in Float32 with a fixed order:
/// `row[j] = fma(U[i,r−1], V[r−1,j], … fma(U[i,1], V[1,j], U[i,0]·V[0,j]))`, k ascending.
///
/// Why not `cblas_sgemm`: merges must be reproducible bit for bit on every machine, because
/// `ckpt unmerge --residual` restores a base exactly by recomputing the same delta later, perhaps
/// elsewhere; BLAS kernels differ between CPUs (blocking, threads) and so do their last bits. A
/// fused multiply-add chain in k order is exactly specified by IEEE 754, and it is also the order
/// PyTorch's CPU matmul uses for small inner dimensions, so Float32 merges match PEFT's bit for bit
/// (measured on the fixtures). `ckpt_lowrank_row_fma` (C, AVX2+FMA when the CPU has it, `fmaf`
/// otherwise; same bits either way). For adapter ranks (r ≪ n) it is bound by memory like GEMM.
public struct LowRankRows: Sendable {
    public let u: Matrix
    public let v: Matrix

    public init(u: Matrix, v: Matrix) throws(LinalgError) {
        guard u.columns == v.rows else {
            throw .shapeMismatch(operation: "LowRankRows", details: "U \(u.rows)×\(u.columns), V \(v.rows)×\(v.columns)")
        }
        _ = try blasInt(u.columns, "LowRankRows")
        self.u = u
        self.v = v
    }

    public var rows: Int { u.rows }
    public var columns: Int { v.columns }
    public var rank: Int { u.columns }

    /// Writes row `i` of `U·V` into `output` (which must hold `columns` elements).
    public func row(_ i: Int, into output: UnsafeMutablePointer<Float>) {
        let n = v.columns, r = u.columns
        u.elements.withUnsafeBufferPointer { uBuffer in
            v.elements.withUnsafeBufferPointer { vBuffer in
                guard let uBase = uBuffer.baseAddress, let vBase = vBuffer.baseAddress else {
                    output.initialize(repeating: 0, count: n)
                    return
                }
                ckpt_lowrank_row_fma(uBase + i * r, Int32(r), vBase, n, n, output)
            }
        }
    }

    /// Writes rows `range` of `U·V` one after another into `output` (`range.count × columns` elements):
    /// the same bits as `row`, four rows sharing each pass over V.
    public func rows(_ range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        withFactors { u, r, v in ckpt_lowrank_rows_fma(u + range.lowerBound * r, Int32(r), range.count, v, columns, columns, output) }
    }

    /// Calls `body` with U (row-major, `rank` floats a row), the rank and V (row-major, `columns` floats
    /// a row), for kernels that form rows themselves (the fused merge).
    public func withFactors<R>(_ body: (UnsafePointer<Float>, Int, UnsafePointer<Float>) throws -> R) rethrows -> R {
        try u.elements.withUnsafeBufferPointer { uBuffer in
            try v.elements.withUnsafeBufferPointer { vBuffer in
                // Empty factors (rank 0 or no rows) still need valid pointers: a dummy element.
                var empty: Float = 0
                return try withUnsafePointer(to: &empty) { dummy in
                    try body(uBuffer.baseAddress ?? dummy, u.columns, vBuffer.baseAddress ?? dummy)
                }
            }
        }
    }
}
