import CheckpointCore
import CZstd

/// Streaming, multi-threaded zstd compression of a whole file into an `AtomicOutput`
/// (`ZSTD_compressStream2` with `ZSTD_c_nbWorkers`), producing one frame with the content size and an
/// XXH64 checksum in it, as the `zstd` command line does.
public enum ZstdCompressor {
    static let inputChunk = 1 << 22

    /// Compresses `file` at `level` using `workers` threads (0: in the calling thread) into `output`
    /// (not committed here). `progress` receives (bytes consumed, file size).
    public static func compress(_ file: ReadOnlyFile, level: Int, workers: Int, into output: AtomicOutput, progress: ((Int, Int) -> Void)? = nil) throws {
        guard let context = ZSTD_createCCtx() else {
            throw ZstdError.libraryFailure(file: output.destination, operation: "compressing", reason: "cannot allocate a compression context")
        }
        defer { ZSTD_freeCCtx(context) }
        func check(_ result: Int) throws {
            if ZSTD_isError(result) != 0 {
                throw ZstdError.libraryFailure(file: output.destination, operation: "compressing", reason: ZstdFormat.errorName(result))
            }
        }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        if workers > 0 {
            // A libzstd built without threads refuses this; compressing in one thread is still correct.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(clamping: workers))
        }
        try check(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(file.size)))

        let input = OwnedBytes(count: inputChunk)
        let compressed = OwnedBytes(count: ZSTD_CStreamOutSize() * 8)
        var offset = 0
        repeat {
            let count = min(inputChunk, file.size - offset)
            let chunk = UnsafeMutableRawBufferPointer(rebasing: input.bytes[0..<count])
            try file.read(into: chunk, at: offset)
            offset += count
            let last = offset == file.size
            var source = ZSTD_inBuffer(src: chunk.baseAddress, size: count, pos: 0)
            // With ZSTD_e_end the call returns 0 only once the frame is complete and flushed; with
            // ZSTD_e_continue, once the input is consumed. Worker threads compress in the meantime.
            var remaining = 0
            repeat {
                var target = ZSTD_outBuffer(dst: compressed.bytes.baseAddress, size: compressed.count, pos: 0)
                remaining = ZSTD_compressStream2(context, &target, &source, last ? ZSTD_e_end : ZSTD_e_continue)
                try check(remaining)
                try output.write(UnsafeRawBufferPointer(rebasing: compressed.bytes[0..<target.pos]))
            } while last ? remaining != 0 : source.pos < source.size
            progress?(offset, file.size)
        } while offset < file.size
    }
}
