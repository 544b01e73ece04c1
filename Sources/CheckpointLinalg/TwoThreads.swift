import Dispatch

/// Two independent computations at once, one on each of two threads (the machines ckpt is measured
/// on have two cores; with more, OpenBLAS's own threads take the large calls).
enum TwoThreads {
    /// Runs `first` and `second` concurrently and returns both results; the first failure is thrown.
    static func both<X, Y>(_ first: @Sendable () throws(LinalgError) -> X, _ second: @Sendable () throws(LinalgError) -> Y) throws(LinalgError) -> (X, Y) {
        // Each iteration writes only its own result; both outlive `concurrentPerform`.
        nonisolated(unsafe) var x: Result<X, LinalgError>?, y: Result<Y, LinalgError>?
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            if index == 0 { x = Result { () throws(LinalgError) in try first() } } else { y = Result { () throws(LinalgError) in try second() } }
        }
        guard let x, let y else { throw .shapeMismatch(operation: "two threads", details: "a half did not run") }
        return (try x.get(), try y.get())
    }
}
