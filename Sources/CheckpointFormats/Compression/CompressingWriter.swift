import CheckpointCore

/// Writes any single-file checkpoint compressed with zstd, whatever its writer: the format's writer
/// writes the plain file to a scratch file in the destination folder, then `finish()` compresses it
/// into the destination through an `AtomicOutput` with a `ZstdOutputFilter` and removes the scratch.
///
/// The fallback for writers that take no output filter (see `StreamingCompressedWriter`): the
/// writer interface hands over tensor bytes only, and each format writes its own header (and the torch
/// zip its directory) inside its writer, so a wrapper cannot see the whole byte stream. The scratch
/// file sits next to the destination (same file system, never a RAM-backed /tmp) because it is as
/// large as the uncompressed checkpoint. The destination is created first, so an existing output
/// without `--force` fails before any work.
public final class CompressingWriter: CompressedOutputWriter {
    public let destination: String
    public let workers: Int
    private let inner: any CheckpointWriter
    private let scratch: ScratchFile
    private let output: AtomicOutput
    private let filter: ZstdOutputFilter
    public var level: Int { filter.level }
    /// Receives (bytes compressed, uncompressed size) while `finish()` compresses (a phase of its own,
    /// after the conversion's progress has reached 100%).
    public var compressionProgress: ((Int, Int) -> Void)? {
        get { filter.progress }
        set { filter.progress = newValue }
    }
    public var uncompressedBytes: Int { filter.bytesIn }
    public var compressedBytes: Int { filter.bytesOut }

    public var writeOrder: [Int] { inner.writeOrder }
    public var outputPaths: [String] { [destination] }

    /// `makeWriter` creates the format's writer for the path it is given (a scratch file name that
    /// keeps the extension of the destination without `.zst`); it must write exactly that one file.
    public init(destination: String, level: Int, workers: Int, overwrite: Bool, makeWriter: (String) throws -> any CheckpointWriter) throws {
        // The size is pledged only in finish(), once the plain file exists: not here.
        let filter = try ZstdOutputFilter(destination: destination, level: level, workers: workers, pledgedSize: nil)
        let output = try AtomicOutput(destination: destination, overwrite: overwrite, filter: filter)
        let innerName = ZstdFormat.strippingExtension(Paths.baseName(of: destination))
        let scratch: ScratchFile
        do {
            scratch = try ScratchFile(folder: Paths.folder(of: destination), name: innerName, hidden: true)
            try scratch.close()
        } catch {
            output.abort()
            throw error
        }
        let inner: any CheckpointWriter
        do {
            inner = try makeWriter(scratch.path)
        } catch {
            scratch.remove()
            output.abort()
            throw error
        }
        guard inner.outputPaths == [scratch.path] else {
            inner.abort()
            scratch.remove()
            output.abort()
            throw ZstdError.cannotCompress(output: destination, reason: "the output is several files (shards); --compress writes one file")
        }
        self.destination = destination
        self.filter = filter
        self.workers = workers
        self.inner = inner
        self.scratch = scratch
        self.output = output
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws { try inner.write(bytes) }

    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        try inner.copy(from: file, offset: offset, count: count)
    }

    /// Completes the uncompressed file, compresses it, commits the destination, removes the scratch file.
    public func finish() throws {
        do {
            try inner.finish()
            let uncompressed = try ReadOnlyFile(path: scratch.path)
            try filter.pledge(uncompressed.size)
            try output.copy(from: uncompressed, offset: 0, count: uncompressed.size)
            try output.commit()
            scratch.remove()
        } catch {
            abort()
            throw error
        }
    }

    public func abort() {
        inner.abort()
        output.abort()
        scratch.remove()
    }
}
