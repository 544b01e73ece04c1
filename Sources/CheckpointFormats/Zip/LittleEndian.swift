/// Little-endian field reads from a byte array at checked positions (zip headers are little-endian).
/// Callers check lengths before reading; an out-of-range read returns 0 instead of trapping.
struct LittleEndianFields {
    let bytes: [UInt8]

    func u8(_ at: Int) -> UInt8 { at >= 0 && at < bytes.count ? bytes[at] : 0 }

    func u16(_ at: Int) -> UInt16 { UInt16(u8(at)) | UInt16(u8(at + 1)) << 8 }

    func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }

    func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }

    /// `count` bytes at `at`, clamped to the array.
    func slice(_ at: Int, _ count: Int) -> [UInt8] {
        let start = max(0, min(at, bytes.count))
        let end = max(start, min(bytes.count, at &+ count))
        return Array(bytes[start..<end])
    }
}

/// Appending little-endian fields to a byte array (the zip writer's records).
extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
