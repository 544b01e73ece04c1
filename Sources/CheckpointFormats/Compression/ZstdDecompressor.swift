import CheckpointCore
import CZstd

/// Streaming decompression of a whole zstd file into a scratch file, every frame in turn as `zstd -d`
/// does (`ZSTD_decompressStream`), with memory bounded by the buffers and the frame's window.
/// Decompression and writing overlap: a `WritePipeline` writes one output buffer while the next fills.
enum ZstdDecompressor {
    static let inputChunk = 1 << 20
    static let outputChunk = 1 << 22

    /// Decompresses `file` into `scratch` and returns the number of bytes written. `progress` receives
    /// (compressed bytes consumed, compressed size).
    static func decompress(_ file: ReadOnlyFile, into scratch: ScratchFile, progress: ((Int, Int) -> Void)? = nil) throws -> Int {
        guard let context = ZSTD_createDCtx() else {
            throw ZstdError.libraryFailure(file: file.path, operation: "decompressing", reason: "cannot allocate a decompression context")
        }
        defer { ZSTD_freeDCtx(context) }
        let set = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, ZstdFormat.windowLogMax)
        if ZSTD_isError(set) != 0 {
            throw ZstdError.libraryFailure(file: file.path, operation: "decompressing", reason: ZstdFormat.errorName(set))
        }
        let pipeline = WritePipeline { bytes in try scratch.write(bytes) }
        let input = OwnedBytes(count: inputChunk)
        var output = try pipeline.nextBuffer(minimumCount: outputChunk)
        var target = ZSTD_outBuffer(dst: output.bytes.baseAddress, size: outputChunk, pos: 0)
        var offset = 0
        var produced = 0
        // 0 once a frame is completely decoded and flushed; anything else means a frame is still open.
        var pending = 0
        do {
            while offset < file.size {
                let count = min(inputChunk, file.size - offset)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: input.bytes[0..<count])
                try file.read(into: chunk, at: offset)
                var source = ZSTD_inBuffer(src: chunk.baseAddress, size: count, pos: 0)
                var full = false
                // Continue while input remains or the output filled up (the decoder may hold more).
                repeat {
                    let result = ZSTD_decompressStream(context, &target, &source)
                    if ZSTD_isError(result) != 0 {
                        throw classify(result, file: file.path, offset: offset + source.pos, produced: produced + target.pos)
                    }
                    pending = result
                    full = target.pos == target.size
                    if full {
                        pipeline.submit(output, count: target.pos)
                        produced += target.pos
                        output = try pipeline.nextBuffer(minimumCount: outputChunk)
                        target = ZSTD_outBuffer(dst: output.bytes.baseAddress, size: outputChunk, pos: 0)
                    }
                } while source.pos < source.size || full
                offset += count
                progress?(offset, file.size)
            }
            pipeline.submit(output, count: target.pos)
            produced += target.pos
            try pipeline.drain()
        } catch {
            try? pipeline.drain()
            throw error
        }
        guard pending == 0 else { throw ZstdError.truncated(file: file.path, size: file.size, produced: produced) }
        return produced
    }

    private static func classify(_ result: Int, file: String, offset: Int, produced: Int) -> ZstdError {
        let code = ZSTD_getErrorCode(result)
        let name = ZstdFormat.errorName(result)
        if code == ZSTD_error_checksum_wrong { return .checksumMismatch(file: file) }
        if code == ZSTD_error_frameParameter_windowTooLarge { return .windowTooLarge(file: file, reason: name) }
        if code == ZSTD_error_memory_allocation {
            return .libraryFailure(file: file, operation: "decompressing", reason: name)
        }
        if code == ZSTD_error_prefix_unknown {
            return .corrupt(file: file, offset: offset, produced: produced, reason: "bytes that are not a zstd frame (\(name))")
        }
        return .corrupt(file: file, offset: offset, produced: produced, reason: name)
    }
}
