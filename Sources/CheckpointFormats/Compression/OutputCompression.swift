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

    /// A writer for the format `plainPath` (or `format`) names, writing `path` compressed as it goes
    /// (the format writer's own output gets a `ZstdOutputFilter` with one worker thread per core).
    public func makeWriter(format: String?, shardSize: Int?, carrying source: CheckpointMetadata, tensors: [TensorInfo], aliases: [(name: String, target: String)] = [], overwrite: Bool) throws -> StreamingCompressedWriter {
        guard shardSize == nil else {
            throw ZstdError.cannotCompress(output: path, reason: "--shard-size writes several files and --compress writes one; drop one of them (or compress each shard with zstd afterwards)")
        }
        guard let target = try OutputTarget.resolve(path: plainPath, format: format, shardSize: nil).redirected(to: path) else {
            throw ZstdError.cannotCompress(output: path, reason: "the output is several files; --compress writes one")
        }
        let filter = try ZstdOutputFilter(destination: path, level: level, workers: sysconfProcessors())
        return try StreamingCompressedWriter(filter: filter) { filter in
            try target.makeWriter(carrying: source, tensors: tensors, aliases: aliases, overwrite: overwrite, filter: filter).writer
        }
    }

    /// How many source key/values the compressed output cannot hold (see `OutputTarget.makeWriter(carrying:)`).
    public func droppedKeys(carrying source: CheckpointMetadata, format: String?) -> Int {
        guard let target = try? OutputTarget.resolve(path: plainPath, format: format, shardSize: nil), !target.storesBlockTypes else { return 0 }
        return GGUFMetadataMapping.safetensorsMetadata(from: source).dropped
    }
}
