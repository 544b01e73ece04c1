import CheckpointCore
import CheckpointFormats

/// How the commands show zstd: a progress line while decompressing, and sizes in the report.
enum CompressionProgress {
    /// A progress callback that draws its own line from the first chunk (so its rate counts only the
    /// (de)compression) and clears it at the end.
    static func line(_ label: String, enabled: Bool) -> (Int, Int) -> Void {
        var progress: ProgressLine?
        return { done, total in
            if progress == nil { progress = ProgressLine(label: label, enabled: enabled) }
            progress?.update(done: done, total: total)
            if done == total { progress?.finish() }
        }
    }

    /// `, compressed to N (R% of it)` for a compressed output, else nothing.
    static func summary(_ writer: any CheckpointWriter) -> String {
        guard let compressed = writer as? StreamingCompressedWriter, compressed.uncompressedBytes > 0 else { return "" }
        let percent = Double(compressed.compressedBytes) * 100 / Double(compressed.uncompressedBytes)
        return ", compressed (zstd \(compressed.level)) to \(ByteSize.describe(compressed.compressedBytes)) (\(ByteSize.formatted(percent, decimals: 1))%)"
    }

    static func jsonMembers(_ writer: any CheckpointWriter) -> [JSONMember] {
        guard let compressed = writer as? StreamingCompressedWriter else { return [] }
        return [JSONMember("compression", .object([
            JSONMember("format", .string("zstd")),
            JSONMember("level", .number(String(compressed.level))),
            JSONMember("uncompressed_bytes", .number(String(compressed.uncompressedBytes))),
            JSONMember("compressed_bytes", .number(String(compressed.compressedBytes))),
        ]))]
    }
}

extension ExitStatus {
    /// Usage mistakes exit with 2, a failing library with 4, a bad compressed file with 3 (or what the
    /// decompressed checkpoint's own error deserves).
    static func code(forCompression error: ZstdError) -> Int32 {
        switch error {
        case .badCompressionOption, .cannotCompress: return usage
        case .libraryFailure: return ioError
        case let .innerCheckpoint(_, underlying, _): return code(for: underlying) ?? invalidInput
        default: return invalidInput
        }
    }
}
