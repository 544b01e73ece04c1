/// Why a linear-algebra call could not run or failed inside BLAS/LAPACK.
public enum LinalgError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Operand shapes that do not fit the operation.
    case shapeMismatch(operation: String, details: String)
    /// A dimension or leading dimension larger than the 32-bit integers BLAS/LAPACK take.
    case dimensionTooLarge(operation: String, value: Int)
    /// A LAPACK routine returned `info < 0` (argument `-info` invalid: a bug) or `info > 0` (no convergence).
    case lapack(routine: String, info: Int32)
    /// The input held NaN or infinity, which LAPACK routines do not accept.
    case nonFinite(operation: String)

    public var description: String {
        switch self {
        case let .shapeMismatch(operation, details):
            return "\(operation): shapes do not fit (\(details))"
        case let .dimensionTooLarge(operation, value):
            return "\(operation): dimension \(value) exceeds the 32-bit range of BLAS/LAPACK"
        case let .lapack(routine, info) where info < 0:
            return "\(routine) rejected argument \(-info) (info = \(info)); this is a bug in ckpt, please report it"
        case let .lapack(routine, info):
            return "\(routine) did not converge (info = \(info)); the matrix may be badly scaled"
        case let .nonFinite(operation):
            return "\(operation): the matrix holds NaN or infinite values"
        }
    }
}

/// Narrows a dimension to the `Int32` that BLAS/LAPACK take, or throws.
@inline(__always)
func blasInt(_ value: Int, _ operation: String) throws(LinalgError) -> Int32 {
    guard value >= 0, value <= Int(Int32.max) else { throw .dimensionTooLarge(operation: operation, value: value) }
    return Int32(value)
}
