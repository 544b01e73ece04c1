import CBLAS
import Synchronization

/// Which operand of a product is used transposed.
public enum Transpose: Sendable {
    case none, transposed

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

public enum GEMM {
    /// `c ← alpha · op(a) · op(b) + beta · c` in Float32 with Float32 accumulation, through
    /// `cblas_sgemm` (row-major). `op(x)` is `x` or `xᵀ` by `transposeA` / `transposeB`.
    public static func multiply(
        _ a: MatrixView, _ transposeA: Transpose = .none,
        _ b: MatrixView, _ transposeB: Transpose = .none,
        into c: MutableMatrixView, alpha: Float = 1, beta: Float = 0
    ) throws(LinalgError) {
        let (m, kA) = transposeA == .none ? (a.rows, a.columns) : (a.columns, a.rows)
        let (kB, n) = transposeB == .none ? (b.rows, b.columns) : (b.columns, b.rows)
        guard kA == kB, c.rows == m, c.columns == n else {
            throw .shapeMismatch(operation: "sgemm", details: "op(A) \(m)×\(kA), op(B) \(kB)×\(n), C \(c.rows)×\(c.columns)")
        }
        guard a.leadingDimension >= max(a.columns, 1), b.leadingDimension >= max(b.columns, 1), c.leadingDimension >= max(c.columns, 1) else {
            throw .shapeMismatch(operation: "sgemm", details: "a leading dimension is smaller than its row")
        }
        let name = "sgemm"
        let (m32, n32, k32) = (try blasInt(m, name), try blasInt(n, name), try blasInt(kA, name))
        let (lda, ldb, ldc) = (try blasInt(a.leadingDimension, name), try blasInt(b.leadingDimension, name), try blasInt(c.leadingDimension, name))
        guard m > 0, n > 0 else { return }
        guard kA > 0 else {
            // BLAS would scale C by beta; do the same without calling it with empty operands.
            for i in 0..<m { for j in 0..<n { c.base?[i * c.leadingDimension + j] *= beta } }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA.cblas, transposeB.cblas, m32, n32, k32, alpha, a.base, lda, b.base, ldb, beta, c.base, ldc)
    }

    /// `op(a) · op(b)` as a new matrix (see `multiply`; `cblas_sgemm`).
    public static func product(_ a: Matrix, _ transposeA: Transpose = .none, _ b: Matrix, _ transposeB: Transpose = .none, alpha: Float = 1) throws(LinalgError) -> Matrix {
        let m = transposeA == .none ? a.rows : a.columns
        let n = transposeB == .none ? b.columns : b.rows
        var c = Matrix(rows: m, columns: n)
        var failure: LinalgError?
        a.withView { av in
            b.withView { bv in
                c.withMutableView { cv in
                    do throws(LinalgError) { try multiply(av, transposeA, bv, transposeB, into: cv, alpha: alpha) } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return c
    }
}

/// BLAS threading. ckpt runs independent tensors on its own workers, so it usually sets 1 here.
public enum BLASThreads {
    /// OpenBLAS's thread count (`openblas_get_num_threads` / `openblas_set_num_threads`).
    public static var count: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(clamping: max(newValue, 1))) }
    }

    /// Runs `body` with OpenBLAS on one thread, for work whose BLAS calls are small (QR and SVD of
    /// thin panels) while its large products run on threads of their own: OpenBLAS's idle threads
    /// spin (`sched_yield`) after each call, against those threads, for longer than the calls last.
    /// The setting is process-wide: nested and concurrent scopes share it, the first to enter
    /// saves the count and the last to leave restores it.
    static func single<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        scope.withLock { state in
            if state.depth == 0 {
                state.saved = count
                if state.saved > 1 { count = 1 }
            }
            state.depth += 1
        }
        defer {
            scope.withLock { state in
                state.depth -= 1
                if state.depth == 0, state.saved > 1 { count = state.saved }
            }
        }
        return try body()
    }

    private static let scope = Mutex<(depth: Int, saved: Int)>((0, 1))
}
