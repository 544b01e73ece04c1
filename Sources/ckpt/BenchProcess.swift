import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

/// Child processes for the benchmark: spawned with `posix_spawn(3)`, reaped with `wait4(2)` so that
/// their wall time and peak RSS (`ru_maxrss`) are measured exactly.
enum BenchProcess {
    struct Result {
        var status: Int32
        var seconds: Double
        var maxRSSBytes: Int
    }

    static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    /// Runs `arguments` (the first is the executable path); when `fsyncing` is given, the time
    /// includes an `fsync(2)` of that file after the child exits.
    static func run(_ arguments: [String], fsyncing: String? = nil) throws -> Result {
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let start = Clock.now()
        let spawned = posix_spawn(&pid, arguments[0], nil, nil, argv, environ)
        guard spawned == 0 else { throw FileError(path: arguments[0], operation: "spawn", errno: spawned) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        if let fsyncing {
            let fd = open(fsyncing, O_RDONLY)
            if fd >= 0 { _ = fsync(fd); close(fd) }
        }
        let seconds = Clock.now() - start
        let exitCode = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(status: exitCode, seconds: seconds, maxRSSBytes: Int(usage.ru_maxrss) * 1024)
    }

    /// Reads a file once so that every measurement starts from the page cache.
    static func warm(_ path: String) {
        guard let file = try? ReadOnlyFile(path: path) else { return }
        var offset = 0
        while offset < file.size, let chunk = try? file.read(at: offset, count: min(1 << 24, file.size - offset)) {
            offset += chunk.count
        }
    }

    static func removeTree(_ folder: String) {
        for name in FolderListing.names(in: folder) { unlink(Paths.join(folder, name)) }
        rmdir(folder)
    }

    /// `rchar` of /proc/self/io: bytes this process obtained through read-type system calls.
    static func bytesRead() -> Int? {
        // procfs files report size 0; read a fixed amount with plain read(2).
        var buffer = [UInt8](repeating: 0, count: 4096)
        let fd = open("/proc/self/io", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("rchar:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: " "))
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
