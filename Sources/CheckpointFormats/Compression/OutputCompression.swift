import CheckpointCore

/// What the output name and `--compress` ask for: `OUT.zst`, or `OUT` plus `--compress zstd[:LEVEL]`
/// (written as `OUT.zst`), compressed at LEVEL (3 when only the name asks).
public struct OutputCompression: Sendable, Equatable {
    /// The file written (always ends in `.zst`).
    public let path: String
    /// The path without `.zst`, whose extension names the format inside.
    public let plainPath: String
    public let level: Int

    /// Nil when neither the name nor the option asks for compression.
    public static func resolve(output: String, option: String?) throws -> OutputCompression? {
        let level = try option.map { text throws(ZstdError) in try ZstdLevel.parse(text) }
        let wanted = level != nil || ZstdFormat.hasExtension(output)
        guard wanted else { return nil }
        if output.hasSuffix("/") || FolderListing.isFolder(output) {
            throw ZstdError.cannotCompress(output: output, reason: "it is a folder; --compress writes one file (name it like model.safetensors.zst)")
        }
        if ZstdFormat.hasExtension(output) {
            return OutputCompression(path: output, plainPath: ZstdFormat.strippingExtension(output), level: level ?? ZstdLevel.standard)
        }
        return OutputCompression(path: output + ZstdFormat.fileExtension, plainPath: output, level: level ?? ZstdLevel.standard)
    }

    /// A writer for the format `plainPath` (or `format`) names, compressed into `path` with one
    /// worker thread per core: on the fly for safetensors, through a plain scratch file for writers
    /// that take no output filter.
    public func makeWriter(format: String?, shardSize: Int?, metadata: [(key: String, value: String)]?, tensors: [TensorInfo], overwrite: Bool) throws -> any CompressedOutputWriter {
        guard shardSize == nil else {
            throw ZstdError.cannotCompress(output: path, reason: "--shard-size writes several files and --compress writes one; drop one of them (or compress each shard with zstd afterwards)")
        }
        let workers = sysconfProcessors()
        if case .safetensors = try OutputTarget.resolve(path: plainPath, format: format, shardSize: nil) {
            let size = try SafeTensorsWriter.fileSize(metadata: metadata, tensors: tensors, path: path)
            let filter = try ZstdOutputFilter(destination: path, level: level, workers: workers, pledgedSize: size)
            return try StreamingCompressedWriter(filter: filter) { filter in
                try SafeTensorsWriter(destination: path, metadata: metadata, tensors: tensors, overwrite: overwrite, filter: filter)
            }
        }
        return try CompressingWriter(destination: path, level: level, workers: workers, overwrite: overwrite) { scratchPath in
            try OutputTarget.resolve(path: scratchPath, format: format, shardSize: nil).makeWriter(metadata: metadata, tensors: tensors, overwrite: true)
        }
    }
}
