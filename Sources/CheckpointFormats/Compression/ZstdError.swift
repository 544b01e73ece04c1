import CheckpointCore

/// Everything that can be wrong with a zstd-compressed checkpoint or a compression request. Offsets
/// are byte offsets in the compressed file; `produced` counts decompressed bytes written before the
/// problem showed.
public enum ZstdError: Error, CustomStringConvertible {
    /// The file has no bytes at all.
    case empty(file: String)
    /// The name says `.zst` but the first four bytes are not the zstd magic number.
    case notZstd(file: String, firstBytes: [UInt8], detected: DetectedFormat)
    /// The input ended inside a frame.
    case truncated(file: String, size: Int, produced: Int)
    /// libzstd refused the data (corrupt block, bad frame header, unsupported parameter).
    case corrupt(file: String, offset: Int, produced: Int, reason: String)
    /// The frame's checksum (XXH64 of the content) does not match what was decompressed.
    case checksumMismatch(file: String)
    /// The frame declares a window larger than ckpt accepts (2 GiB, `zstd --long=31`).
    case windowTooLarge(file: String, reason: String)
    /// The first frame header declares more content than the folder for the temporary file can hold.
    case contentLargerThanFreeSpace(file: String, contentSize: UInt64, folder: String, available: Int)
    /// Decompression succeeded but the content is not a checkpoint.
    case notACheckpoint(file: String, decompressedBytes: Int, detected: DetectedFormat)
    /// The decompressed content is a checkpoint with a problem of its own; `description` is its error
    /// with the temporary file's name replaced by the compressed file's.
    case innerCheckpoint(file: String, underlying: Error, description: String)
    /// `--compress` with something other than `zstd` or `zstd:LEVEL` (1–19).
    case badCompressionOption(String)
    /// Compression cannot produce this output (a folder of shards).
    case cannotCompress(output: String, reason: String)
    /// libzstd itself failed (out of memory, a refused parameter), not the data.
    case libraryFailure(file: String, operation: String, reason: String)

    public var description: String {
        switch self {
        case let .empty(file):
            return "'\(escapedForTerminal(file))' is empty (0 bytes), not a zstd-compressed checkpoint; get the file again"
        case let .notZstd(file, firstBytes, detected):
            let hex = firstBytes.prefix(4).map { hexByte($0) }.joined(separator: " ")
            var text = "'\(escapedForTerminal(file))' is named .zst but does not start with the zstd magic number 28 B5 2F FD (it starts with \(hex))"
            switch detected {
            case .unknown, .empty, .zstd: text += "; the file is not zstd-compressed or is damaged"
            default: text += "; it looks like \(detected): rename it without .zst"
            }
            return text
        case let .truncated(file, size, produced):
            return "'\(escapedForTerminal(file))' is truncated: the zstd data ends at byte \(size) in the middle of a frame (after \(produced) decompressed bytes); download or copy it again"
        case let .corrupt(file, offset, produced, reason):
            return "'\(escapedForTerminal(file))' is corrupt: zstd stopped near compressed byte \(offset) (after \(produced) decompressed bytes): \(reason); get the file again"
        case let .checksumMismatch(file):
            return "'\(escapedForTerminal(file))' is corrupt: the XXH64 checksum stored at the end of a zstd frame does not match the decompressed content; get the file again"
        case let .windowTooLarge(file, reason):
            return "'\(escapedForTerminal(file))' asks for a zstd window larger than the 2 GiB that ckpt and the zstd command accept (\(reason)); the file is corrupt or was made with non-standard limits"
        case let .contentLargerThanFreeSpace(file, contentSize, folder, available):
            return "'\(escapedForTerminal(file))' declares \(contentSize) bytes (\(ByteSize.describe(Int(clamping: contentSize)))) of content in its zstd frame header (offset 0), more than the \(ByteSize.describe(available)) free in '\(escapedForTerminal(folder))' where it would be decompressed; set TMPDIR to a folder with enough space (or the header is corrupt)"
        case let .notACheckpoint(file, bytes, detected):
            return "'\(escapedForTerminal(file))' decompresses to \(bytes) bytes that are \(detected), not a checkpoint ckpt can read"
        case let .innerCheckpoint(_, _, description):
            return description
        case let .badCompressionOption(text):
            return "--compress '\(escapedForTerminal(text))': expected zstd or zstd:LEVEL with LEVEL from \(ZstdLevel.range.lowerBound) to \(ZstdLevel.range.upperBound) (example: zstd:9)"
        case let .cannotCompress(output, reason):
            return "cannot compress '\(escapedForTerminal(output))': \(reason)"
        case let .libraryFailure(file, operation, reason):
            return "\(operation) '\(escapedForTerminal(file))' failed in libzstd: \(reason)"
        }
    }
}

private func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
