import CheckpointCore
import CZstd

/// zstd compression of an `AtomicOutput` as it is written (`ZSTD_compressStream2`), multi-threaded
/// (`ZSTD_c_nbWorkers`: the calling thread hands over input, workers compress it), producing one frame
/// with an XXH64 checksum, and the content size when it is known up front, as `zstd FILE` does.
public final class ZstdOutputFilter: OutputFilter {
    public let level: Int
    /// The file being written, for messages.
    public let destination: String
    /// Bytes taken in and bytes produced so far.
    public private(set) var bytesIn = 0
    public private(set) var bytesOut = 0
    private let context: OpaquePointer
    private let buffer = OwnedBytes(count: ZSTD_CStreamOutSize() * 8)

    /// `workers` threads (0: compress in the calling thread). The content size goes into the frame
    /// header when the writer declares it (`expectSize`) before its first byte.
    public init(destination: String, level: Int, workers: Int) throws(ZstdError) {
        guard ZstdLevel.range.contains(level) else { throw .badCompressionOption("zstd:\(level)") }
        guard let context = ZSTD_createCCtx() else {
            throw .libraryFailure(file: destination, operation: "compressing", reason: "cannot allocate a compression context")
        }
        self.context = context
        self.destination = destination
        self.level = level
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        if workers > 0 {
            // A libzstd built without threads refuses this; compressing in one thread is still correct.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(clamping: workers))
        }
    }

    /// `OutputFilter`: the writer's total, pledged (`ZSTD_CCtx_setPledgedSrcSize`) when no byte has been
    /// compressed yet; written in the frame header and checked by libzstd at the end.
    public func expectSize(_ total: Int) throws {
        guard bytesIn == 0 else { return }
        try check(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(max(total, 0))))
    }

    deinit { ZSTD_freeCCtx(context) }

    public func process(_ bytes: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var source = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        // ZSTD_e_continue returns once the input is consumed (handed to the workers).
        repeat {
            _ = try step(&source, ZSTD_e_continue, emit: emit)
        } while source.pos < source.size
        bytesIn += bytes.count
    }

    public func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var source = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        // ZSTD_e_end returns 0 only once the frame is complete and flushed.
        while try step(&source, ZSTD_e_end, emit: emit) != 0 {}
    }

    /// One `ZSTD_compressStream2` call; emits its output and returns what libzstd says remains.
    private func step(_ source: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective, emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        var target = ZSTD_outBuffer(dst: buffer.bytes.baseAddress, size: buffer.count, pos: 0)
        let remaining = ZSTD_compressStream2(context, &target, &source, directive)
        try check(remaining)
        if target.pos > 0 {
            try emit(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<target.pos]))
            bytesOut += target.pos
        }
        return remaining
    }

    private func check(_ result: Int) throws(ZstdError) {
        if ZSTD_isError(result) != 0 {
            throw .libraryFailure(file: destination, operation: "compressing", reason: ZstdFormat.errorName(result))
        }
    }
}
