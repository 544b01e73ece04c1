#if canImport(Glibc)
import Glibc
#endif

/// Temporary outputs left behind by runs killed with SIGKILL (which no handler can catch): files
/// `.NAME.ckpt-tmp-PID-N` beside a destination NAME whose process PID no longer exists.
///
/// A new output to NAME removes them first, so repeated killed runs do not pile up copies of a model.
/// Only the same destination's files are touched, and only when `kill(PID, 0)` says ESRCH: a live
/// process (ours, another ckpt, or an unrelated one that reused the PID) keeps its file. On a folder
/// shared between machines a PID is only meaningful on its own host, hence the same-name restriction.
enum StaleTemporaries {
    static func prefix(for name: String) -> String { ".\(name).ckpt-tmp-" }

    /// Removes the stale temporary files of `name` in `folder`; returns the names removed.
    @discardableResult
    static func remove(folder: String, name: String) -> [String] {
        let prefix = prefix(for: name)
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var removed: [String] = []
        while let entry = readdir(directory) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard entryName.hasPrefix(prefix), let pid = processID(in: entryName.dropFirst(prefix.count)) else { continue }
            guard pid != getpid(), kill(pid, 0) == -1, errno == ESRCH else { continue }
            let path = folder + "/" + entryName
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if unlink(path) == 0 { removed.append(entryName) }
        }
        return removed
    }

    /// The PID of `PID-N` (both decimal).
    private static func processID(in suffix: Substring) -> pid_t? {
        let parts = suffix.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, Int(parts[1]) != nil, let pid = pid_t(parts[0]), pid > 0 else { return nil }
        return pid
    }
}
