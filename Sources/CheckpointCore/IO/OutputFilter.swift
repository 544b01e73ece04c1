/// A transformation of the bytes of an `AtomicOutput` on their way to disk: compression. The output
/// calls `process` with every byte it is given, in order, and `finish` once, at commit.
public protocol OutputFilter: AnyObject {
    /// Takes `bytes` and passes whatever output is ready to `emit`.
    func process(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws
    /// Ends the stream, passing everything still held to `emit`.
    func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws
    /// Told, before the first byte, how many bytes the writer will give (zstd records it in the frame).
    func expectSize(_ total: Int) throws
}

extension OutputFilter {
    public func expectSize(_ total: Int) throws {}
}

/// The sum of `sizes`, or nil if it overflows (a size worth declaring to a filter, never a trap).
public func checkedTotal(_ sizes: [Int]) -> Int? {
    var total = 0
    for size in sizes {
        let (sum, overflow) = total.addingReportingOverflow(size)
        guard !overflow, size >= 0 else { return nil }
        total = sum
    }
    return total
}
