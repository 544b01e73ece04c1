import CheckpointCore

/// Sequential little-endian reads over the header of a GGUF file, through a window refilled with
/// `pread(2)`: the header of a 100 GB model is read without touching its tensor data.
struct GGUFCursor {
    let file: ReadOnlyFile
    private(set) var offset: Int
    private var window: [UInt8] = []
    private var windowStart = 0
    private static let windowSize = 1 << 20

    init(file: ReadOnlyFile, offset: Int = 0) {
        self.file = file
        self.offset = offset
    }

    var remaining: Int { file.size - offset }

    /// Makes `count` bytes at `offset` available in the window; `what` names them in the error.
    private mutating func ensure(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard count <= remaining else {
            throw .truncated(file: file.path, what: what(), offset: offset, needed: count, fileSize: file.size)
        }
        if offset >= windowStart && offset + count <= windowStart + window.count { return }
        let length = min(max(count, Self.windowSize), remaining)
        do {
            window = try file.read(at: offset, count: length)
        } catch {
            throw .truncated(file: file.path, what: what(), offset: offset, needed: count, fileSize: file.size)
        }
        windowStart = offset
    }

    mutating func bytes(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> [UInt8] {
        try ensure(count, what())
        let start = offset - windowStart
        offset += count
        return Array(window[start..<(start + count)])
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        let size = MemoryLayout<T>.size
        try ensure(size, what())
        let start = offset - windowStart
        var value: T = 0
        for index in 0..<size { value |= T(truncatingIfNeeded: window[start + index]) << (8 * index) }
        offset += size
        return value
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 { try integer(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 { try integer(UInt64.self, what()) }

    /// A GGUF string: u64 length, then that many bytes (no terminator); lengths over 1 GiB or past the
    /// end of the file are refused before anything is allocated.
    mutating func string(_ what: @autoclosure () -> String) throws(GGUFError) -> [UInt8] {
        let start = offset
        let length = try u64(what() + " length")
        guard length <= UInt64(GGUFConstants.maxStringBytes), length <= UInt64(remaining) else {
            throw .stringTooLong(file: file.path, what: what(), offset: start, length: length)
        }
        return try bytes(Int(length), what())
    }
}
