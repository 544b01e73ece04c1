#if canImport(Glibc)
import Glibc
#endif

/// An operating-system failure on a named file: opening, mapping, reading, writing, renaming.
public struct FileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        var advice = ""
        switch errno {
        case ENOSPC: advice = "; free some space or write somewhere else"
        case EFBIG: advice = "; the file system or a limit (ulimit -f) refuses a file this large; try --shard-size"
        case EACCES, EPERM: advice = "; check the permissions of the file and its folder"
        case ENOENT: advice = "; check the path"
        case EEXIST: advice = "; pass --force to replace it"
        default: break
        }
        return "\(operation) '\(escapedForTerminal(path))' failed: \(reason)\(advice)"
    }
}

/// A bounds or validity problem in a byte range requested from a file.
public struct RangeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let offset: Int
    public let length: Int
    public let fileSize: Int

    public var description: String {
        "byte range \(offset)..<\(offset &+ length) is outside '\(escapedForTerminal(path))' (\(fileSize) bytes); the file is truncated or corrupt"
    }
}
