import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

/// The bench's temporary folder: created fresh with `mkdtemp(3)` (so that removing it can never touch
/// anything that was there before) and removed at the end, including when the bench is interrupted.
///
/// Thrown errors are covered by `remove()` in a `defer`. Signals are not: ckpt's SIGINT/SIGTERM
/// handler (`TemporaryFiles`) ends the process at once. So a janitor, `/bin/sh` ignoring those
/// signals, holds the read end of a pipe whose write end only this process has; when the bench ends
/// in any way (even SIGKILL) the pipe reads end-of-file and the janitor removes the folder.
final class BenchFolder {
    let path: String
    private var janitorPipe: Int32 = -1

    /// Creates `ckpt-bench-XXXXXX` in `parent`, checking first that it has `needed` bytes free.
    init(parent: String, needed: Int, keep: Bool) throws {
        var info = statvfs()
        guard statvfs(parent, &info) == 0 else { throw FileError(path: parent, operation: "use as benchmark folder", errno: errno) }
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        guard free >= needed else {
            throw UsageError("\(escapedForTerminal(parent)) has \(ByteSize.describe(free)) free; the benchmark needs \(ByteSize.describe(needed)) (choose another folder with --dir, or fewer --layers)")
        }
        var template = Array(Paths.join(parent, "ckpt-bench-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) != nil else {
            throw FileError(path: parent, operation: "create a temporary folder in", errno: errno)
        }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !keep { startJanitor() }
    }

    deinit { if janitorPipe >= 0 { close(janitorPipe) } }

    func file(_ name: String) -> String { Paths.join(path, name) }

    /// Removes the folder and what the bench put in it (plain files only: it makes no subfolders).
    func remove() {
        for name in FolderListing.names(in: path) { unlink(file(name)) }
        rmdir(path)
    }

    /// Best effort: without a janitor the folder is still removed on every path but a signal.
    private func startJanitor() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        // Children spawned later (cp, ckpt) must not hold the write end, or the janitor would wait for them.
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        // Twice, a second apart: a child being killed alongside the bench may still create a file.
        let script = "trap '' INT TERM HUP; read _; rm -rf -- \"$1\"; sleep 1; rm -rf -- \"$1\""
        let arguments = ["/bin/sh", "-c", script, "ckpt-bench-janitor", path]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, STDIN_FILENO)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        if readEnd != STDIN_FILENO { posix_spawn_file_actions_addclose(&actions, readEnd) }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        close(readEnd)
        if spawned == 0 { janitorPipe = writeEnd } else { close(writeEnd) }
    }
}
