import CheckpointCore
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Child processes for the benchmark: spawned with `posix_spawn(3)`, reaped with `wait4(2)` so that
/// their wall time and peak RSS are measured from outside, as a user would see them.
enum BenchProcess {
    struct Result {
        var seconds: Double
        /// `ru_maxrss` from `wait4`. On Linux a child started by `posix_spawn` (vfork semantics) inherits
        /// the spawner's peak RSS when it calls `exec`, so this is an upper bound: max(child, `inherited`).
        var maxRSS: Int
        /// The bench's own RSS when it spawned the child (its peak is reset just before), i.e. the part
        /// of `maxRSS` that may not be the child's.
        var inherited: Int?
        /// The child's own peak (`VmHWM` of /proc/PID/status), sampled every 10 ms while it runs; nil
        /// for a child too short-lived (under ~0.1 s) for the samples to mean anything.
        var sampledPeak: Int?
        /// CPU time of the child in user space and in the kernel (`ru_utime`, `ru_stime`).
        var userSeconds: Double
        var systemSeconds: Double
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func selfExecutable() throws -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBytes { raw in
            raw.withMemoryRebound(to: CChar.self) { chars in chars.baseAddress.map { readlink("/proc/self/exe", $0, chars.count - 1) } ?? -1 }
        }
        guard count > 0 else { throw FileError(path: "/proc/self/exe", operation: "readlink", errno: errno) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// Runs `arguments` (the first is the executable path) with stdout sent to /dev/null (stderr stays,
    /// so a child's error is seen). When `fsyncing` is given, the time includes an `fsync(2)` of that
    /// file after the child exits, which is what `cp SRC DST && sync DST` costs.
    static func run(_ arguments: [String], label: String, fsyncing: String? = nil) throws -> Result {
        guard let executable = arguments.first else { throw Failure(description: "\(label): nothing to run") }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)

        let inherited = PeakMemory.resetOwnPeak()
        var pid: pid_t = 0
        let start = Clock.now()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw FileError(path: executable, operation: "spawn", errno: spawned) }
        let sampler = PeakMemory.Sampler(pid: pid)

        // Wait for the exit without reaping (WNOWAIT), so that the PID cannot be reused while the
        // sampler still reads /proc/PID; then reap with wait4 for the rusage.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        let exited = Clock.now()
        let sampledPeak = sampler.stop()
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}

        let signal = status & 0x7F
        guard signal == 0 else { throw Failure(description: "\(label) was killed by signal \(signal)") }
        let code = (status >> 8) & 0xFF
        guard code == 0 else { throw Failure(description: "\(label) exited with status \(code)") }
        var end = exited
        if let fsyncing {
            try syncFile(fsyncing)
            end = Clock.now()
        }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return Result(seconds: end - start, maxRSS: Int(usage.ru_maxrss) * 1024, inherited: inherited, sampledPeak: sampledPeak,
                      userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime))
    }

    /// `fsync(2)` of a file (an `O_RDONLY` descriptor is enough on Linux).
    static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError(path: path, operation: "fsync", errno: errno) }
    }
}

/// Peak resident set sizes from /proc (proc(5)).
enum PeakMemory {
    /// Resets this process's peak RSS to its current RSS (`clear_refs` "5", Linux ≥ 4.0) and returns
    /// it, so that a child spawned next inherits as little as possible.
    static func resetOwnPeak() -> Int? {
        let fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = write(fd, "5", 1)
            close(fd)
        }
        return kilobytes("VmHWM", in: "/proc/self/status").map { $0 * 1024 }
    }

    /// The value of a `Key:   123 kB` line of a /proc status file.
    static func kilobytes(_ key: String, in path: String) -> Int? {
        guard let text = BenchProcFile.read(path) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            let fields = line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return fields.first.flatMap { Int($0) }
        }
        return nil
    }

    /// Reads a child's `VmHWM` every 10 ms on a Dispatch thread until stopped. `VmHWM` only grows, so
    /// the last sample misses at most what the child allocated in its last 10 ms (ckpt allocates its
    /// buffers at the start).
    final class Sampler: Sendable {
        private let peak = Atomic<Int>(0)
        private let samples = Atomic<Int>(0)
        /// Fewer samples than this may all predate the child's loading of its libraries.
        private static let minimumSamples = 10
        private let running = Atomic<Bool>(true)
        private let group = DispatchGroup()

        init(pid: pid_t) {
            let path = "/proc/\(pid)/status"
            DispatchQueue.global().async(group: group) { [self] in
                while running.load(ordering: .acquiring) {
                    if let kB = PeakMemory.kilobytes("VmHWM", in: path) {
                        peak.max(kB * 1024, ordering: .relaxed)
                        samples.add(1, ordering: .relaxed)
                    }
                    usleep(10_000)
                }
            }
        }

        /// Stops sampling; the largest value seen, or nil if too few were.
        func stop() -> Int? {
            running.store(false, ordering: .releasing)
            group.wait()
            return samples.load(ordering: .relaxed) >= Sampler.minimumSamples ? peak.load(ordering: .relaxed) : nil
        }
    }
}

/// Small reads of procfs files (they report size 0, so read until end of file).
enum BenchProcFile {
    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    /// `rchar` of /proc/self/io: bytes this process obtained through read-type system calls.
    static func bytesReadBySelf() -> Int? {
        guard let text = read("/proc/self/io") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("rchar:") {
            return Int(line.dropFirst(6).filter { $0 != " " })
        }
        return nil
    }
}
