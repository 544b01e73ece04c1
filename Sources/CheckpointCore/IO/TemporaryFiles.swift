#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// The temporary files of outputs not yet committed, removed when the process is interrupted.
///
/// Signals are received through Dispatch sources, not raw handlers, so the clean-up runs as ordinary
/// code on a queue thread. It holds the registry lock while it unlinks and then ends the process with
/// `_exit(128 + signal)` (the shell convention; re-raising is unreliable because Dispatch keeps the
/// signal blocked on its threads), so a concurrent `AtomicOutput.commit` either renamed before (the
/// destination is complete) or never.
public enum TemporaryFiles {
    private static let registry = Mutex<[Int: String]>([:])
    private static let counter = Atomic<Int>(0)
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func register(_ path: String) -> Int {
        let token = counter.add(1, ordering: .relaxed).newValue
        registry.withLock { $0[token] = path }
        return token
    }

    /// Runs `body` (a rename) under the registry lock and forgets the token, so that an interruption
    /// cannot unlink a file that is being renamed into place.
    static func commit<T>(_ token: Int, _ body: () -> T) -> T {
        registry.withLock { paths in
            paths[token] = nil
            return body()
        }
    }

    /// Creates a new file exclusively (`open(2)` with `O_CREAT | O_EXCL`) under the first free name
    /// that `name(attempt)` gives, registered for clean-up *before* it exists: a signal arriving
    /// between the creation and the registration would otherwise leave the file behind.
    static func createExclusive(mode: mode_t, name: (Int) -> String) throws(FileError) -> (descriptor: Int32, path: String, token: Int) {
        var path = ""
        for attempt in 0..<100 {
            path = name(attempt)
            let token = register(path)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 { return (fd, path, token) }
            let failure = errno
            forget(token)
            guard failure == EEXIST else { throw FileError(path: path, operation: "create temporary file", errno: failure) }
        }
        throw FileError(path: path, operation: "create temporary file", errno: EEXIST)
    }

    static func forget(_ token: Int) {
        _ = registry.withLock { $0.removeValue(forKey: token) }
    }

    /// Removes every registered temporary file (also useful to tests).
    public static func removeAll() {
        registry.withLock { paths in
            for path in paths.values { unlink(path) }
            paths.removeAll()
        }
    }

    /// Installs the SIGINT / SIGTERM / SIGHUP clean-up. Call once, early, from the executable.
    public static func installSignalCleanup() {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                registry.withLock { paths in
                    for path in paths.values { unlink(path) }
                    paths.removeAll()
                    _exit(128 + signalNumber)
                }
            }
            source.resume()
            sources.append(source)
        }
        installFaultHandler()
    }

    /// What a process that took SIGBUS prints, built before any fault so that the handler allocates nothing.
    private static let faultMessage: [UInt8] = Array("""
        ckpt: error: an input file was truncated or replaced while it was being read (SIGBUS); temporary \
        outputs were removed and nothing was written. Make sure no other program is writing the input, \
        then run again.

        """.utf8)

    /// SIGBUS arrives when a mapped input shrinks under a read (another program truncating or
    /// rewriting it in place). It cannot be turned into a thrown error, so the handler does what
    /// an interruption does, with a message instead of a crash: remove temporary outputs, exit 4
    /// (I/O error).
    ///
    /// The handler runs on whatever the faulting thread was doing, so it must not allocate (a thread
    /// interrupted inside malloc holds its lock: found as a hang of the SIGBUS test) nor wait for a lock.
    /// The first use of a generic type makes the Swift runtime allocate its metadata, so
    /// `removeForFault` and `unlinkAll` run once here, at install time, with nothing to remove.
    private static func installFaultHandler() {
        _ = faultMessage.count
        unlinkAll([0: "", 1: "/nonexistent/ckpt-signal-handler-warm-up/path"])  // both fail with ENOENT
        removeForFault()
        signal(SIGBUS) { _ in
            TemporaryFiles.faultMessage.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
            TemporaryFiles.removeForFault()
            _exit(4)
        }
    }

    /// Unlinks the registered files if the registry lock is free within about 0.2 s. A real fault never
    /// happens under the lock, but a SIGBUS sent with kill(2) may interrupt its holder, perhaps this very
    /// thread: then the files are left to the next run's stale-temporary clean-up rather than waited for.
    private static func removeForFault() {
        for _ in 0..<200 {
            if registry.withLockIfAvailable({ unlinkAll($0) }) != nil { return }
            usleep(1000)
        }
    }

    private static func unlinkAll(_ paths: [Int: String]) {
        for path in paths.values { unlink(path) }
    }
}
