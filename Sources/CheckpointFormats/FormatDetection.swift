/// What the first bytes of a file say it is (see formats.md §0.1). Used to open the right reader and,
/// when a file fails to parse as the format its name claims, to tell the user what it really is.
public enum DetectedFormat: Sendable, Equatable, CustomStringConvertible {
    case safetensors
    case gguf
    case zip
    case zstd
    case legacyTorch
    case pickle
    case torchPreview
    case gitLFSPointer
    case html
    case empty
    case unknown

    /// Sniffs up to the first 512 bytes of a file.
    public static func sniff(_ prefix: [UInt8]) -> DetectedFormat {
        func starts(_ magic: [UInt8]) -> Bool { prefix.count >= magic.count && Array(prefix[0..<magic.count]) == magic }
        if prefix.isEmpty { return .empty }
        if starts(Array("GGUF".utf8)) { return .gguf }
        if ZstdFormat.startsFile(prefix) { return .zstd }
        if starts([0x50, 0x4B, 0x03, 0x04]) || starts([0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if starts(Array("PYTORCH1".utf8)) { return .torchPreview }
        if starts([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) { return .legacyTorch }
        if starts(Array("version https://git-lfs".utf8)) { return .gitLFSPointer }
        // A safetensors header starts with `{` at byte 8 whatever its length bytes are (a length of
        // 60 or 128 would otherwise look like `<` or a pickle opcode).
        if prefix.count >= 9, prefix[8] == 0x7B, prefix[4..<8].allSatisfy({ $0 == 0 }) { return .safetensors }
        let text = String(decoding: prefix.prefix(64), as: UTF8.self).lowercased()
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix("<!doctype") || trimmed.hasPrefix("<html") || trimmed.hasPrefix("<?xml") || trimmed.hasPrefix("<") {
            return .html
        }
        if prefix[0] == 0x80, prefix.count > 1, prefix[1] <= 5 { return .pickle }
        if prefix.count >= 9, [0x7B, 0x20, 0x0A, 0x0D, 0x09].contains(prefix[8]) { return .safetensors }
        return .unknown
    }

    public var description: String {
        switch self {
        case .safetensors: return "a safetensors file"
        case .gguf: return "a GGUF file"
        case .zip: return "a zip archive (a PyTorch checkpoint saved by torch.save, or another zip)"
        case .zstd: return "a zstd-compressed file"
        case .legacyTorch: return "a legacy (pre-1.6) PyTorch checkpoint"
        case .pickle: return "a bare Python pickle"
        case .torchPreview: return "a PyTorch preview-release archive"
        case .gitLFSPointer: return "a Git LFS pointer (the weights were never downloaded: run `git lfs pull`)"
        case .html: return "an HTML page (a failed download saved as a model)"
        case .empty: return "an empty file"
        case .unknown: return "not a known checkpoint format"
        }
    }
}
