#if canImport(Glibc)
import Glibc
#endif
import CFileIO
import Synchronization

/// A file written under a temporary name in its destination folder and renamed into place only when
/// complete (`fsync(2)` then `rename(2)`, then `fsync` of the folder).
///
/// The destination therefore holds either its previous content or the complete new file, never a part.
/// The temporary file is removed on `abort()`, on deinit without commit, and on SIGINT/SIGTERM (see
/// `TemporaryFiles`); after SIGKILL it remains until the next output to the same destination removes
/// it (`StaleTemporaries`). Small writes are coalesced in a buffer; large ones go straight to `write(2)`.
/// With an `OutputFilter` (zstd), every byte passes through the filter and the file holds its output.
/// While `directWrites` is on, outputs created go to the device with O_DIRECT (`DirectStaging`)
/// where the file system allows it.
public final class AtomicOutput {
    /// Whether outputs created from now on bypass the page cache (the commands that stream large
    /// outputs, convert, merge and unmerge, turn it on; their `--page-cache` leaves it off). Process-wide because it is a
    /// choice about the machine's I/O, not about any one format's writer.
    public static let directWrites = Atomic<Bool>(false)
    public let destination: String
    public let temporaryPath: String
    /// Bytes handed to the file so far (after the filter, when there is one).
    public private(set) var bytesWritten: Int = 0
    /// The O_DIRECT staging buffer, when `directWrites` was on and the file system took the flag.
    private let staging: DirectStaging?
    /// Whether this output bypasses the page cache (O_DIRECT asked for and taken by the file system).
    public var writesDirectly: Bool { staging != nil }
    private let overwrite: Bool
    private let filter: OutputFilter?
    private var descriptor: Int32
    private var token: Int
    private var pending: [UInt8] = []
    private var finished = false
    /// File bytes already handed to writeback (`startWriteback`).
    private var writebackQueued = 0
    private static let bufferSize = 1 << 22
    /// Writeback is started every this many bytes, and sendfile copies go in pieces this large.
    private static let writebackStep = 1 << 25

    /// Creates the temporary file. Fails with `EEXIST` when the destination exists and `overwrite` is false.
    /// `direct` chooses O_DIRECT for this output; nil follows `directWrites`.
    public init(destination: String, overwrite: Bool, filter: OutputFilter? = nil, direct: Bool? = nil) throws(FileError) {
        var info = stat()
        if !overwrite, lstat(destination, &info) == 0 {
            throw FileError(path: destination, operation: "create", errno: EEXIST)
        }
        let folder = Paths.folder(of: destination)
        let name = Paths.baseName(of: destination)
        StaleTemporaries.remove(folder: folder, name: name)
        let created = try TemporaryFiles.createExclusive(mode: 0o666) { attempt in
            "\(folder)/\(StaleTemporaries.prefix(for: name))\(getpid())-\(attempt)"
        }
        self.destination = destination
        self.temporaryPath = created.path
        self.overwrite = overwrite
        self.filter = filter
        self.descriptor = created.descriptor
        self.token = created.token
        staging = (direct ?? AtomicOutput.directWrites.load(ordering: .relaxed)) ? DirectStaging(descriptor: created.descriptor, path: created.path) : nil
        if staging == nil { pending.reserveCapacity(AtomicOutput.bufferSize) }
    }

    deinit { abort() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        guard bytes.count > 0 else { return }
        if let filter {
            try filtered { emit in try filter.process(bytes, emit: emit) }
        } else {
            try store(bytes)
        }
    }

    /// Declares, before the first write, how many bytes the writer will write in all; a filter may record
    /// it (zstd writes it in the frame header). Without a filter this does nothing.
    public func expectSize(_ total: Int) throws(FileError) {
        guard let filter else { return }
        try filtered { _ in try filter.expectSize(total) }
    }

    /// Appends bytes to the file, coalescing small ones; large ones (a merge's blocks) go straight
    /// to `write(2)` rather than through a copy into the buffer.
    private func store(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        guard bytes.count > 0 else { return }
        if let staging {
            try staging.append(bytes)
            bytesWritten += bytes.count
            return
        }
        if bytes.count >= AtomicOutput.bufferSize / 2 {
            try flush()
            try writeAll(bytes)
        } else if pending.count + bytes.count <= AtomicOutput.bufferSize {
            pending.append(contentsOf: bytes)
        } else {
            try flush()
            pending.append(contentsOf: bytes)
        }
    }

    public func write(_ bytes: [UInt8]) throws(FileError) {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(FileError) in try write(buffer) } }
        try result.get()
    }

    /// Appends `count` bytes of `file` starting at `offset`, inside the kernel when the file systems
    /// allow it and there is no filter (`copy_file_range(2)`, which costs less kernel time than
    /// `sendfile(2)` on ext4, then `sendfile`), else through a bounded buffer.
    public func copy(from file: ReadOnlyFile, offset: Int, count: Int) throws {
        guard offset >= 0, count >= 0, offset <= file.size, count <= file.size - offset else {
            throw RangeError(path: file.path, offset: offset, length: count, fileSize: file.size)
        }
        try flush()
        if let staging, filter == nil {
            try staging.append(from: file, offset: offset, length: count)
            bytesWritten += count
            return
        }
        var inputOffset = Int64(offset)
        var remaining = count
        // Each way is given up for the next on the errors that mean "not between these files".
        let unsupported: Set<Int32> = [EXDEV, EINVAL, ENOSYS, EOPNOTSUPP, EBADF]
        var kernelCopy = filter == nil, copyRange = true
        while remaining > 0 && kernelCopy {
            let piece = min(remaining, AtomicOutput.writebackStep)
            let copied: Int
            let failure: Int32
            if copyRange {
                let result = ckpt_copy_file_range(file.descriptor, &inputOffset, descriptor, Int64(piece))
                (copied, failure) = result < 0 ? (-1, Int32(-result)) : (Int(result), 0)
            } else {
                var position = off_t(inputOffset)
                copied = sendfile(descriptor, file.descriptor, &position, piece)
                failure = copied < 0 ? errno : 0
                if copied > 0 { inputOffset = Int64(position) }
            }
            if copied < 0 {
                if failure == EINTR { continue }
                if unsupported.contains(failure) {
                    if copyRange { copyRange = false } else { kernelCopy = false }
                    continue
                }
                throw FileError(path: temporaryPath, operation: "write", errno: failure)
            }
            if copied == 0 { throw RangeError(path: file.path, offset: Int(inputOffset), length: remaining, fileSize: file.size) }
            remaining -= copied
            bytesWritten += copied
            startWriteback()
        }
        var chunkOffset = Int(inputOffset)
        while remaining > 0 {
            let chunk = try file.read(at: chunkOffset, count: min(remaining, AtomicOutput.bufferSize))
            try write(chunk)
            chunkOffset += chunk.count
            remaining -= chunk.count
        }
    }

    /// Flushes, `fsync`s, and renames into place. After this the destination is complete.
    public func commit() throws(FileError) {
        guard !finished else { return }
        if let filter { try filtered { emit in try filter.finish(emit: emit) } }
        try flush()
        try staging?.finish()
        guard fsync(descriptor) == 0 else { throw FileError(path: temporaryPath, operation: "fsync", errno: errno) }
        guard close(descriptor) == 0 else {
            descriptor = -1
            throw FileError(path: temporaryPath, operation: "close", errno: errno)
        }
        descriptor = -1
        let source = temporaryPath
        let target = destination
        let replace = overwrite
        let failure: Int32 = TemporaryFiles.commit(token) {
            if replace { return rename(source, target) == 0 ? 0 : errno }
            // link(2) fails if the destination appeared meanwhile: never replace what the user did not allow.
            guard link(source, target) == 0 else { return errno }
            unlink(source)
            return 0
        }
        guard failure == 0 else {
            unlink(source)
            finished = true
            throw FileError(path: target, operation: "rename into place", errno: failure)
        }
        finished = true
        let folderDescriptor = open(Paths.folder(of: target), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            _ = fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }

    /// Discards the temporary file. The destination is untouched.
    public func abort() {
        guard !finished else { return }
        finished = true
        // A direct write still on its way must not land on a closed (or reused) descriptor.
        staging?.drain()
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlink(temporaryPath)
        TemporaryFiles.forget(token)
    }

    /// Runs a filter step whose output goes to the file; a filter's own failure becomes a `FileError`
    /// naming the output.
    private func filtered(_ step: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws(FileError) {
        do {
            try step { bytes in try store(bytes) }
        } catch let error as FileError {
            throw error
        } catch {
            throw FileError(path: temporaryPath, operation: "compress (\(error))", errno: EIO)
        }
    }

    private func flush() throws(FileError) {
        guard !pending.isEmpty else { return }
        let result = pending.withUnsafeBytes { buffer in Result { () throws(FileError) in try writeAll(buffer) } }
        try result.get()
        pending.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        try FileDescriptorIO.writeAll(descriptor, bytes, path: temporaryPath)
        bytesWritten += bytes.count
        startWriteback()
    }

    /// Asks the kernel to start writing out what has accumulated since the last call, without
    /// waiting. Otherwise dirty pages wait for `commit`'s fsync (on a machine with much RAM, the
    /// whole file), and the disk idles while the output is produced: starting early lets the writing
    /// overlap the computing, and fsync only waits for the tail. Advisory: a failure here changes
    /// nothing, and fsync reports any I/O error.
    private func startWriteback() {
        let pending = bytesWritten - writebackQueued
        guard pending >= AtomicOutput.writebackStep else { return }
        _ = ckpt_start_writeback(descriptor, Int64(writebackQueued), Int64(pending))
        writebackQueued = bytesWritten
    }
}
