import CheckpointCore

/// A format writer whose `AtomicOutput` compresses as it writes (`ZstdOutputFilter`): no plain copy
/// of the file ever reaches the disk. Adds the figures `convert` reports.
public final class StreamingCompressedWriter: CheckpointWriter {
    private let inner: any CheckpointWriter
    private let filter: ZstdOutputFilter

    public var level: Int { filter.level }
    /// Sizes before and after compression, complete after `finish()`.
    public var uncompressedBytes: Int { filter.bytesIn }
    public var compressedBytes: Int { filter.bytesOut }
    public var writeOrder: [Int] { inner.writeOrder }
    public var outputPaths: [String] { inner.outputPaths }

    /// `makeWriter` creates the format's writer for the destination with `filter` on its output.
    public init(filter: ZstdOutputFilter, makeWriter: (OutputFilter) throws -> any CheckpointWriter) throws {
        self.filter = filter
        self.inner = try makeWriter(filter)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try inner.write(bytes) }
    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws { try inner.copy(from: file, offset: offset, count: count) }
    /// Completes and commits the output; on failure nothing is left.
    public func finish() throws {
        do {
            try inner.finish()
        } catch {
            inner.abort()
            throw error
        }
    }
    public func abort() { inner.abort() }
}
