import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// Puts the benchmark file in the page cache and checks that it stays there, so that every timed run
/// reads from memory and the comparison is about the tools, not the disk.
enum BenchPageCache {
    /// Reads the whole file once (untimed warm-up).
    static func warm(_ path: String) throws {
        let file = try ReadOnlyFile(path: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 24, alignment: 4096)
        defer { buffer.deallocate() }
        var offset = 0
        while offset < file.size {
            let count = min(buffer.count, file.size - offset)
            try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]), at: offset)
            offset += count
        }
    }

    /// Fraction of the file's pages resident in the page cache (`mincore(2)` on a mapping that is
    /// never touched, so asking does not fault anything in); nil if the kernel cannot tell.
    static func residentFraction(_ path: String) -> Double? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size > 0 else { return nil }
        let size = Int(info.st_size)
        guard let address = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0),
              address != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        defer { munmap(address, size) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var pages = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
        guard mincore(address, size, &pages) == 0 else { return nil }
        let resident = pages.reduce(0) { $0 + Int($1 & 1) }
        return Double(resident) / Double(pages.count)
    }
}
