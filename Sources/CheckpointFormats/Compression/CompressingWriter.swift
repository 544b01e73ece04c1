import CheckpointCore

/// Writes any single-file checkpoint compressed with zstd: the format's own writer writes the
/// uncompressed file to a scratch file in the destination folder, then `finish()` compresses it into
/// the destination through an `AtomicOutput` and removes the scratch file.
///
/// Why not compress on the fly: the writer interface hands over tensor bytes only; each format writes
/// its own header (and the torch zip its directory) inside its writer, so a wrapper cannot see the
/// whole byte stream. Going through a scratch file works for every format unchanged, and the scratch
/// file sits next to the destination (same file system, never a RAM-backed /tmp) because it is as
/// large as the uncompressed checkpoint. The destination is created first, so an existing output
/// without `--force` fails before any work.
public final class CompressingWriter: CheckpointWriter {
    public let destination: String
    public let level: Int
    public let workers: Int
    private let inner: any CheckpointWriter
    private let scratch: ScratchFile
    private let output: AtomicOutput
    /// Receives (bytes compressed, uncompressed size) while `finish()` compresses.
    public var compressionProgress: ((Int, Int) -> Void)?
    /// Sizes known after `finish()`.
    public private(set) var uncompressedBytes = 0
    public private(set) var compressedBytes = 0

    public var writeOrder: [Int] { inner.writeOrder }
    public var outputPaths: [String] { [destination] }

    /// `makeWriter` creates the format's writer for the path it is given (a scratch file name that
    /// keeps the extension of the destination without `.zst`); it must write exactly that one file.
    public init(destination: String, level: Int, workers: Int, overwrite: Bool, makeWriter: (String) throws -> any CheckpointWriter) throws {
        guard ZstdLevel.range.contains(level) else { throw ZstdError.badCompressionOption("zstd:\(level)") }
        let output = try AtomicOutput(destination: destination, overwrite: overwrite)
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
        self.level = level
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
            try ZstdCompressor.compress(uncompressed, level: level, workers: workers, into: output, progress: compressionProgress)
            uncompressedBytes = uncompressed.size
            try output.commit()
            compressedBytes = output.bytesWritten
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
