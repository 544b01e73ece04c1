#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only (`mmap(2)` with `PROT_READ`, `MAP_SHARED`), handing out
/// bounds-checked borrowed byte ranges.
///
/// Streaming consumers call `adviseSequential` before a range and `release` after it, so that pages
/// already used leave the process's resident set (`madvise(2)` `MADV_DONTNEED`): memory stays near
/// one tensor, not the model.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?
    private let file: ReadOnlyFile

    init(file: ReadOnlyFile) throws(FileError) {
        self.file = file
        self.path = file.path
        self.size = file.size
        if file.size == 0 {
            base = nil
            return
        }
        let address = mmap(nil, file.size, PROT_READ, MAP_SHARED, file.descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw FileError(path: file.path, operation: "mmap", errno: errno)
        }
        base = address
    }

    deinit {
        if let base { munmap(base, size) }
    }

    /// The bytes `offset ..< offset + count`, borrowed: valid while this object lives.
    public func bytes(at offset: Int, count: Int) throws(RangeError) -> UnsafeRawBufferPointer {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw RangeError(path: path, offset: offset, length: count, fileSize: size)
        }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        // Touching a mapped page past the current end of the file raises SIGBUS: a file cut short since
        // it was opened is refused here, per range (a cut during the read is left to the SIGBUS
        // handler of `TemporaryFiles.installSignalCleanup`).
        if count > 0, let current = file.currentSize(), current < offset + count {
            throw RangeError(path: path, offset: offset, length: count, fileSize: current)
        }
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Tells the kernel a range will be read front to back (`MADV_SEQUENTIAL` plus `MADV_WILLNEED`).
    public func adviseSequential(offset: Int, count: Int) {
        guard let (start, length) = pageRange(offset: offset, count: count) else { return }
        _ = madvise(start, length, MADV_SEQUENTIAL)
        _ = madvise(start, length, MADV_WILLNEED)
    }

    /// Drops a range that has been consumed from the resident set (the page cache keeps it).
    public func release(offset: Int, count: Int) {
        guard let (start, length) = pageRange(offset: offset, count: count) else { return }
        _ = madvise(start, length, MADV_DONTNEED)
    }

    private func pageRange(offset: Int, count: Int) -> (UnsafeMutableRawPointer, Int)? {
        guard let base, count > 0, offset >= 0, offset <= size, count <= size - offset else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = offset + count
        return (base + start, end - start)
    }
}
