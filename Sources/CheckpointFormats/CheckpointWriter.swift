import CheckpointCore

/// A streaming writer: created with the metadata and the full list of tensors (so that headers and
/// offsets are known up front), then fed each tensor's bytes in `writeOrder`, in one or more chunks.
/// `finish()` checks that every byte arrived, then commits every output file atomically.
public protocol CheckpointWriter: AnyObject {
    /// Indices into the tensor list given at creation, in the order their bytes must be written.
    var writeOrder: [Int] { get }
    /// Appends bytes of the current tensor (the next one in `writeOrder` that is not yet complete).
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Appends `count` bytes of `file` at `offset` to the current tensor without passing them through
    /// user space when possible.
    func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws
    /// Completes and commits the output(s); the destination appears only now.
    func finish() throws
    /// Discards everything written; the destination is untouched.
    func abort()
    /// The files this writer produces (for reports), known once created.
    var outputPaths: [String] { get }
}

/// A writer misused by its caller: too many or too few bytes for a tensor. These are bugs, reported
/// as errors rather than crashes.
public struct WriterSequenceError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
