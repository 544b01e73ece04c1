import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// A zstd-compressed checkpoint (`model.safetensors.zst`), read through a decompressed temporary copy.
///
/// The formats need random access (headers at known offsets, tensors mapped or copied in the kernel),
/// which a compressed stream cannot give, so the file is decompressed once, streaming, into a scratch
/// file in `$TMPDIR` (or /tmp): the input's own folder may be read-only or a slow network mount, and the
/// copy is private to this process. The scratch file is removed when the reader is released, and on
/// SIGINT/SIGTERM/SIGHUP. Tensors report this file's path (the `.zst`) with offsets in the
/// decompressed bytes.
public final class CompressedCheckpointReader: CheckpointReader {
    /// The compressed file as the user named it.
    public let path: String
    /// The reader of the decompressed content.
    public let inner: any CheckpointReader
    public let compressedBytes: Int
    public let decompressedBytes: Int
    private let scratch: ScratchFile
    /// The decompressed copy (for tests: it must be gone once the reader is released).
    var scratchPath: String { scratch.path }

    public var format: CheckpointFormat { inner.format }
    public var metadata: CheckpointMetadata { inner.metadata }
    public var tensors: [TensorInfo] { inner.tensors }

    public func location(of index: Int) -> TensorLocation {
        var location = inner.location(of: index)
        location.file = path
        return location
    }

    public func data(at index: Int) throws -> TensorData { try inner.data(at: index) }
    public func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)? { inner.source(of: index) }
    public func willRead(_ index: Int) { inner.willRead(index) }
    public func didRead(_ index: Int) { inner.didRead(index) }

    /// The folder for decompressed copies: `$TMPDIR` when set, else /tmp.
    public static var scratchFolder: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }

    /// Decompresses `file` (already opened at `path`) and opens the content with `Checkpoint.open`.
    /// Checks the free space of the scratch folder first when the frame header declares a size.
    public init(path: String, file: ReadOnlyFile, torch: TorchReadOptions = TorchReadOptions(), progress: ((Int, Int) -> Void)? = nil) throws {
        let prefix = try file.read(at: 0, count: min(file.size, 32))
        guard !prefix.isEmpty else { throw ZstdError.empty(file: path) }
        guard ZstdFormat.startsFile(prefix) else {
            throw ZstdError.notZstd(file: path, firstBytes: prefix, detected: DetectedFormat.sniff(try file.read(at: 0, count: min(file.size, 512))))
        }
        let folder = CompressedCheckpointReader.scratchFolder
        let available: Int
        do {
            available = try FreeSpace.available(in: folder)
        } catch {
            throw FileError(path: folder, operation: "use as the folder for decompressed copies (set TMPDIR to another folder)", errno: error.errno)
        }
        if let declared = ZstdFormat.declaredContentSize(prefix) {
            if declared > UInt64(available) {
                throw ZstdError.contentLargerThanFreeSpace(file: path, contentSize: declared, folder: folder, available: available)
            }
        }
        let innerName = ZstdFormat.strippingExtension(Paths.baseName(of: path))
        let scratch = try ScratchFile(folder: folder, name: innerName, hidden: false)
        let produced = try ZstdDecompressor.decompress(file, into: scratch, progress: progress)
        try scratch.close()
        let content = try ReadOnlyFile(path: scratch.path)
        let detected = DetectedFormat.sniff(try content.read(at: 0, count: min(content.size, 512)))
        switch detected {
        case .empty, .unknown, .html, .gitLFSPointer, .zstd:
            // .unknown could still be a safetensors file with a damaged header: let its reader say so
            // when the name claims safetensors.
            if detected == .unknown && innerName.lowercased().hasSuffix(".safetensors") { break }
            throw ZstdError.notACheckpoint(file: path, decompressedBytes: produced, detected: detected)
        default:
            break
        }
        do {
            inner = try Checkpoint.open(scratch.path, torch: torch)
        } catch {
            let original = String(describing: error)
            let named = original.replacing(escapedForTerminal(scratch.path), with: escapedForTerminal(path) + " (decompressed)")
            let text = named != original ? named : "'\(escapedForTerminal(path))' (decompressed): \(original)"
            throw ZstdError.innerCheckpoint(file: path, underlying: error, description: text)
        }
        self.path = path
        self.scratch = scratch
        self.compressedBytes = file.size
        self.decompressedBytes = produced
    }
}
