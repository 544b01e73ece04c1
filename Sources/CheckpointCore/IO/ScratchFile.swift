#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A temporary working file that is not an output: a decompressed input, or an uncompressed output
/// waiting to be compressed. Created exclusively (`open(2)` with `O_EXCL`) under a unique name,
/// registered with `TemporaryFiles` so that SIGINT/SIGTERM/SIGHUP remove it, and removed by `remove()`
/// or when the object is released, whichever comes first.
public final class ScratchFile: @unchecked Sendable {
    public let path: String
    private let token: Int
    private let descriptor = Mutex<Int32>(-1)
    private let removed = Atomic<Bool>(false)
    private static let counter = Atomic<Int>(0)

    /// Creates `folder/<prefix>ckpt-<pid>-<n>-<name>`. `name` keeps its extension last, so readers and
    /// writers that look at extensions see the right one. `hidden` adds a leading dot.
    public init(folder: String, name: String, hidden: Bool) throws(FileError) {
        let created = try TemporaryFiles.createExclusive(mode: 0o600) { _ in
            let number = ScratchFile.counter.add(1, ordering: .relaxed).newValue
            return Paths.join(folder, "\(hidden ? "." : "")ckpt-\(getpid())-\(number)-\(name)")
        }
        self.path = created.path
        self.token = created.token
        descriptor.withLock { $0 = created.descriptor }
    }

    deinit { remove() }

    /// Appends `bytes` to the file through the descriptor opened at creation.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        let fd = descriptor.withLock { $0 }
        guard fd >= 0 else { throw FileError(path: path, operation: "write (already closed)", errno: EBADF) }
        try FileDescriptorIO.writeAll(fd, bytes, path: path)
    }

    /// Closes the descriptor opened at creation (the file stays until `remove()`).
    public func close() throws(FileError) {
        let fd = descriptor.withLock { value in
            defer { value = -1 }
            return value
        }
        guard fd >= 0 else { return }
        guard Glibc.close(fd) == 0 else { throw FileError(path: path, operation: "close", errno: errno) }
    }

    /// Unlinks the file (idempotent) and forgets it in the signal clean-up registry.
    public func remove() {
        guard !removed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? close()
        unlink(path)
        TemporaryFiles.forget(token)
    }
}

/// Space left for unprivileged users on the file system holding a folder (`statvfs(3)`).
public enum FreeSpace {
    public static func available(in folder: String) throws(FileError) -> Int {
        var info = statvfs()
        guard statvfs(folder, &info) == 0 else { throw FileError(path: folder, operation: "statvfs", errno: errno) }
        let (bytes, overflow) = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
        return overflow || bytes > UInt64(Int.max) ? Int.max : Int(bytes)
    }
}

/// Writes on raw descriptors, shared by the output types.
enum FileDescriptorIO {
    /// Writes all of `bytes` with `write(2)`, retrying short writes and `EINTR`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(FileError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let written = Glibc.write(fd, base + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, operation: "write", errno: errno)
            }
            done += written
        }
    }
}
