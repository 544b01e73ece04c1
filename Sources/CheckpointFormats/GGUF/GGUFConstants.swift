/// Fixed numbers of the GGUF container (ggml `gguf.h`, `ggml.h`; formats.md §2).
public enum GGUFConstants {
    /// "GGUF" as it appears in every file, whatever the byte order of the rest.
    public static let magic: [UInt8] = Array("GGUF".utf8)
    /// The version every writer produces; readers accept 2 and 3 (same layout).
    public static let version: UInt32 = 3
    public static let oldestReadableVersion: UInt32 = 2
    /// Padding unit when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// ggml's `GGML_MAX_DIMS`.
    public static let maxDimensions = 4
    /// ggml's `GGML_MAX_NAME` counts the terminating NUL: names hold at most 63 bytes.
    public static let maxNameBytes = 63
    /// ggml refuses strings longer than this (1 GiB) before allocating them.
    public static let maxStringBytes = 1 << 30
    /// ggml refuses arrays with more elements than this.
    public static let maxArrayCount = 1 << 30
    /// `GGML_QNT_VERSION`: written as `general.quantization_version` when a tensor is block-quantized.
    public static let quantizationVersion: UInt32 = 2
    /// Nesting deeper than this is refused (gguf-py nests arrays without limit; ggml refuses any).
    public static let maxArrayNesting = 16

    /// Keys with a fixed meaning for the container itself.
    public enum Key {
        public static let architecture = "general.architecture"
        public static let alignment = "general.alignment"
        public static let quantizationVersion = "general.quantization_version"
        public static let fileType = "general.file_type"
        public static let type = "general.type"
        public static let splitNumber = "split.no"
        public static let splitCount = "split.count"
        public static let splitTensorCount = "split.tensors.count"
    }
}
