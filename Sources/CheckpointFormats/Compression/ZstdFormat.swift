import CZstd

/// Constants of the zstd frame format (RFC 8878) that ckpt relies on.
public enum ZstdFormat {
    /// A zstd frame starts with 0xFD2FB528, stored little-endian.
    public static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
    /// The file name suffix that asks for (de)compression.
    public static let fileExtension = ".zst"
    /// Largest window accepted when decompressing: 2^31 bytes, what `zstd --long=31` produces. The
    /// library default (2^27) would refuse files made with `--long`; memory stays bounded by this.
    static let windowLogMax: Int32 = 31

    /// True for the zstd magic number and for a skippable frame (0x184D2A50–0x184D2A5F), both of which
    /// `zstd -d` accepts at the start of a file.
    public static func startsFile(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 4 else { return false }
        if Array(prefix[0..<4]) == magic { return true }
        return prefix[0] & 0xF0 == 0x50 && prefix[1] == 0x2A && prefix[2] == 0x4D && prefix[3] == 0x18
    }

    /// The content size the first frame header declares, if it declares one (`ZSTD_getFrameContentSize`).
    static func declaredContentSize(_ header: [UInt8]) -> UInt64? {
        let size = header.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        // ZSTD_CONTENTSIZE_UNKNOWN is 0ULL - 1 and ZSTD_CONTENTSIZE_ERROR is 0ULL - 2.
        return size >= UInt64.max - 1 ? nil : UInt64(size)
    }

    /// The name without its trailing `.zst` suffixes (`model.safetensors.zst` → `model.safetensors`).
    public static func strippingExtension(_ path: String) -> String {
        var name = path
        while name.lowercased().hasSuffix(fileExtension) && name.count > fileExtension.count {
            name.removeLast(fileExtension.count)
        }
        return name
    }

    public static func hasExtension(_ path: String) -> Bool { path.lowercased().hasSuffix(fileExtension) }

    /// The version of the libzstd ckpt runs with (`ZSTD_versionString`), e.g. "1.5.4".
    public static var libraryVersion: String { String(cString: ZSTD_versionString()) }

    /// libzstd's name for the error code in `result` (`ZSTD_getErrorName`).
    static func errorName(_ result: Int) -> String {
        String(cString: ZSTD_getErrorName(result))
    }
}

/// A compression level as `--compress zstd:LEVEL` accepts it.
public enum ZstdLevel {
    public static let range = 1...19
    /// zstd's own default.
    public static let standard = 3

    /// Parses `zstd` or `zstd:LEVEL`.
    public static func parse(_ text: String) throws(ZstdError) -> Int {
        let lower = text.lowercased()
        if lower == "zstd" { return standard }
        guard lower.hasPrefix("zstd:"), let level = Int(lower.dropFirst(5)), range.contains(level) else {
            throw .badCompressionOption(text)
        }
        return level
    }
}
