import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

/// Where the figures were measured: they only compare within one machine and file system.
struct BenchMachine {
    var processors: Int
    var memoryBytes: Int
    var kernel: String
    var fileSystem: String

    static func current(folder: String) -> BenchMachine {
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let system = withUnsafeBytes(of: names.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let pages = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        return BenchMachine(processors: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryBytes: pages,
                            kernel: "\(system) \(release)", fileSystem: fileSystemName(of: folder))
    }

    /// The file system type of the mount holding `path`: the line of /proc/self/mountinfo whose
    /// device (major:minor) is the file's `st_dev`; its type is the first field after " - ".
    static func fileSystemName(of path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0, let mounts = BenchProcFile.read("/proc/self/mountinfo") else { return "unknown" }
        let device = UInt64(info.st_dev)
        // The glibc encoding of dev_t (gnu_dev_major / gnu_dev_minor, macros Swift does not import).
        let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~0xFFF)
        let minor = (device & 0xFF) | ((device >> 12) & ~0xFF)
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 2, fields[2] == "\(major):\(minor)",
                  let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else { continue }
            return String(fields[separator + 1])
        }
        return "unknown"
    }

    var summary: String {
        let gib = ByteSize.formatted(Double(memoryBytes) / Double(1 << 30), decimals: 1)
        return "\(processors) CPUs, \(gib) GiB RAM, \(kernel), folder on \(fileSystem)"
    }
}
