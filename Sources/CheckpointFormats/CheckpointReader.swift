import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// The checkpoint formats ckpt knows.
public enum CheckpointFormat: String, Sendable, CaseIterable {
    case safetensors
    case shardedSafetensors = "safetensors (sharded)"
    case torch = "pytorch"
    case shardedTorch = "pytorch (sharded)"
    case gguf
    case splitGGUF = "gguf (split)"
}

/// Where a tensor's bytes lie on disk.
public struct TensorLocation: Sendable, Equatable {
    public var file: String
    /// Absolute offset of the first byte in `file`.
    public var offset: Int
    public var count: Int
}

/// File-level metadata, kept in each format's own shape so that nothing is lost on the way through.
public struct CheckpointMetadata: Sendable {
    /// safetensors `__metadata__` (string to string, file order); nil when the file has none.
    public var safetensors: [(key: String, value: String)]?
    /// Index-level metadata of a sharded folder (`metadata` of `model.safetensors.index.json`).
    public var index: [(key: String, value: String)]
    /// Names kept once because they are the same tensor as another (tied weights): (alias, kept name).
    public var aliases: [(name: String, target: String)] = []
    /// PyTorch checkpoint facts (nil for other formats).
    public var torch: TorchFileInfo?
    /// GGUF key/values (typed, file order); nil for other formats.
    public var gguf: GGUFMetadata?

    public init(safetensors: [(key: String, value: String)]? = nil, index: [(key: String, value: String)] = [], gguf: GGUFMetadata? = nil) {
        self.safetensors = safetensors
        self.index = index
        self.gguf = gguf
    }

    /// What a safetensors output gets as `__metadata__`: the source's own, or `{"format": "pt"}` for a
    /// PyTorch source (as transformers writes it); then each of `aliases` (the source's, after the
    /// conversion's selection and renames) as `alias = kept name`, the record safetensors'
    /// `save_model` leaves for tensors it drops.
    public func safetensorsOutput(aliases: [(name: String, target: String)]) -> [(key: String, value: String)]? {
        var entries = safetensors ?? (torch != nil || !aliases.isEmpty ? [("format", "pt")] : nil)
        for alias in aliases { entries?.append((alias.name, alias.target)) }
        return entries
    }
}

/// A checkpoint open for reading: metadata and an ordered list of tensors, each readable by index.
///
/// Readers validate everything at open; `data(at:)` then only maps. Streaming consumers bracket each
/// tensor with `willRead` / `didRead` so that the reader can prefetch and then release its pages.
public protocol CheckpointReader: AnyObject, Sendable {
    var path: String { get }
    var format: CheckpointFormat { get }
    var metadata: CheckpointMetadata { get }
    /// Tensors in the order they are stored (the cheapest order to stream).
    var tensors: [TensorInfo] { get }
    func location(of index: Int) -> TensorLocation
    func data(at index: Int) throws -> TensorData
    /// The open file and range holding the tensor's bytes exactly as they are, for in-kernel copies.
    func source(of index: Int) -> (file: ReadOnlyFile, offset: Int, count: Int)?
    func willRead(_ index: Int)
    func didRead(_ index: Int)
}

/// A small lock around a critical section (`pthread_mutex_lock(3)`), usable from a class with throwing work.
final class Mutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
