#if canImport(Glibc)
import Glibc
#endif
import CFileIO
import Dispatch

/// Direct I/O (O_DIRECT) for one sequential output: bytes gather in an aligned staging buffer and go
/// to the device a whole buffer at a time, bypassing the page cache.
///
/// Why: a merge computes its output. Written through the page cache, every byte is copied by the
/// kernel into freshly allocated page-cache pages (on virtual machines that hand freed memory back
/// to the host, each such page is also a host fault: measured at up to 1.2 s of kernel time for 1 GB),
/// and the disk idles until writeback starts. Direct writes move bytes from this buffer, whose pages
/// stay warm, to the device while the next block is computed. The tail (less than one buffer) is
/// written with O_DIRECT cleared, so the file can end at any length.
///
/// A file system that refuses O_DIRECT (tmpfs before Linux 6.6, some network and FUSE file systems) or a direct write
/// (EINVAL) turns the output back into plain buffered writes; the bytes are the same either way.
/// Sendable by hand: the writing thread touches `direct` and `failure` only inside a queued block,
/// and the owner reads them only after waiting for `inFlight`; the buffers swap only then too.
final class DirectStaging: @unchecked Sendable {
    /// 8 MiB: a multiple of every logical block size, large enough to keep the device streaming.
    static let capacity = 1 << 23
    /// Alignment of the buffers' addresses (O_DIRECT needs the logical block size; 64 KiB covers all).
    private static let alignment = 1 << 16
    /// Two buffers: one fills while the other is on its way to the device (on `queue`), so the
    /// device never waits for the copy into the buffer, nor the producer for the device.
    private let buffers: [UnsafeMutableRawPointer]
    private var current = 0
    private var count = 0
    private let descriptor: Int32
    private let path: String
    private let queue = DispatchQueue(label: "ckpt.direct-writes")
    private let inFlight = DispatchGroup()
    /// Only touched on `queue`, and read after `inFlight` is waited for.
    private var direct = true
    private var failure: FileError?

    /// Turns on O_DIRECT for `descriptor` (a new, empty file), or returns nil when it cannot.
    init?(descriptor: Int32, path: String) {
        var memory: [UnsafeMutableRawPointer] = []
        for _ in 0..<2 {
            var block: UnsafeMutableRawPointer?
            guard posix_memalign(&block, DirectStaging.alignment, DirectStaging.capacity) == 0, let block else {
                memory.forEach { free($0) }
                return nil
            }
            memory.append(block)
        }
        guard ckpt_set_direct_io(descriptor, 1) == 0 else {
            memory.forEach { free($0) }
            return nil
        }
        buffers = memory
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        inFlight.wait()
        buffers.forEach { free($0) }
    }

    /// Stages `bytes`, sending every buffer that fills to the device.
    func append(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let piece = min(bytes.count - done, DirectStaging.capacity - count)
            (buffers[current] + count).copyMemory(from: base + done, byteCount: piece)
            count += piece
            done += piece
            if count == DirectStaging.capacity { try send() }
        }
    }

    /// Stages `length` bytes of `file` from `offset` (read straight into the buffer), sending every
    /// buffer that fills to the device.
    func append(from file: ReadOnlyFile, offset: Int, length: Int) throws {
        var done = 0
        while done < length {
            let piece = min(length - done, DirectStaging.capacity - count)
            try file.read(into: UnsafeMutableRawBufferPointer(start: buffers[current] + count, count: piece), at: offset + done)
            count += piece
            done += piece
            if count == DirectStaging.capacity { try send() }
        }
    }

    /// Waits for the buffer on its way, then writes what is staged (less than a buffer, any length)
    /// with O_DIRECT cleared. The output is complete in the file afterwards; call before fsync.
    func finish() throws(FileError) {
        try waitForDevice()
        if direct {
            let cleared = ckpt_set_direct_io(descriptor, 0)
            guard cleared == 0 else { throw FileError(path: path, operation: "clear O_DIRECT on", errno: cleared) }
            direct = false
        }
        try FileDescriptorIO.writeAll(descriptor, UnsafeRawBufferPointer(start: buffers[current], count: count), path: path)
        count = 0
    }

    /// Hands the full buffer to the device queue (after the previous one has landed) and switches
    /// to the other buffer.
    private func send() throws(FileError) {
        try waitForDevice()
        nonisolated(unsafe) let block = buffers[current]
        let length = count
        queue.async(group: inFlight) { [self] in
            do throws(FileError) { try writeBlock(block, length) } catch { failure = error }
        }
        current = 1 - current
        count = 0
    }

    /// Waits for the buffer on its way, ignoring its outcome: before the file is closed on abort.
    func drain() {
        inFlight.wait()
    }

    private func waitForDevice() throws(FileError) {
        inFlight.wait()
        if let failure { throw failure }
    }

    /// One aligned direct write of a full buffer; buffered writes once direct I/O is off.
    private func writeBlock(_ block: UnsafeMutableRawPointer, _ length: Int) throws(FileError) {
        let bytes = UnsafeRawBufferPointer(start: block, count: length)
        while direct {
            let written = write(descriptor, block, length)
            if written == length { return }
            if written < 0 && errno == EINTR { continue }
            // EINVAL: the file system took the flag but not the write. A short write leaves an
            // unaligned rest. Either way the remaining bytes go the buffered way.
            if written < 0 && errno != EINVAL { throw FileError(path: path, operation: "write", errno: errno) }
            let cleared = ckpt_set_direct_io(descriptor, 0)
            guard cleared == 0 else { throw FileError(path: path, operation: "clear O_DIRECT on", errno: cleared) }
            direct = false
            try FileDescriptorIO.writeAll(descriptor, UnsafeRawBufferPointer(rebasing: bytes[max(written, 0)...]), path: path)
            return
        }
        try FileDescriptorIO.writeAll(descriptor, bytes, path: path)
    }
}
