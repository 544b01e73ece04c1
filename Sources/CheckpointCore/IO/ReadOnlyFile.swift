#if canImport(Glibc)
import Glibc
#endif

/// A file opened read-only (never for writing), with positioned reads for headers.
///
/// Header parsing uses `read(at:count:)` (`pread(2)`) so that inspecting a huge checkpoint reads
/// only its header; tensor bytes come from `MappedFile`.
public final class ReadOnlyFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    /// Identity of the file, to refuse writing an output over one of the inputs.
    public let device: UInt64
    public let inode: UInt64
    let descriptor: Int32

    /// Opens `path` with `open(2)` `O_RDONLY | O_CLOEXEC` and reads its size with `fstat(2)`.
    public init(path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, operation: "open", errno: Glibc.errno) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = Glibc.errno
            close(fd)
            throw FileError(path: path, operation: "stat", errno: code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError(path: path, operation: "open (not a regular file)", errno: EISDIR)
        }
        self.path = path
        self.descriptor = fd
        self.size = Int(info.st_size)
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
    }

    deinit { close(descriptor) }

    /// Reads exactly `count` bytes at `offset` with `pread(2)`; a range past the end is a `RangeError`.
    public func read(at offset: Int, count: Int) throws -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw RangeError(path: path, offset: offset, length: count, fileSize: size)
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
            }
            if got < 0 {
                if Glibc.errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: Glibc.errno)
            }
            if got == 0 { throw RangeError(path: path, offset: offset, length: count, fileSize: currentSize() ?? size) }
            done += got
        }
        return bytes
    }

    /// Fills `buffer` with the bytes at `offset` (`pread(2)`); a range past the end is a `RangeError`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        let count = buffer.count
        guard offset >= 0, offset <= size, count <= size - offset else {
            throw RangeError(path: path, offset: offset, length: count, fileSize: size)
        }
        guard let base = buffer.baseAddress else { return }
        var done = 0
        while done < count {
            let got = pread(descriptor, base + done, count - done, off_t(offset + done))
            if got < 0 {
                if Glibc.errno == EINTR { continue }
                throw FileError(path: path, operation: "read", errno: Glibc.errno)
            }
            if got == 0 { throw RangeError(path: path, offset: offset, length: count, fileSize: currentSize() ?? size) }
            done += got
        }
    }

    /// The file's size now (`fstat(2)`), which differs from `size` when it was changed since it was
    /// opened; nil when it cannot be read.
    public func currentSize() -> Int? {
        var info = stat()
        return fstat(descriptor, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Maps the whole file read-only.
    public func map() throws(FileError) -> MappedFile {
        try MappedFile(file: self)
    }
}
