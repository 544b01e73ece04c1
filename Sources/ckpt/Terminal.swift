#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore

/// stderr output and a progress line that appears only when stderr is a terminal.
enum Terminal {
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    static func printError(_ text: String) {
        writeError(text.hasSuffix("\n") ? text : text + "\n")
    }

    /// Writes to file descriptor 2 directly (no shared `FILE*` state).
    static func writeError(_ text: String) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + done, $0.count - done) }
            if written <= 0 { return }
            done += written
        }
    }
}

/// A single self-rewriting progress line on stderr, throttled to ten updates a second.
final class ProgressLine {
    private let label: String
    private let enabled: Bool
    private var lastDraw = 0.0
    private let start = Clock.now()
    private var drawn = false

    init(label: String, enabled: Bool) {
        self.label = label
        self.enabled = enabled && Terminal.stderrIsTerminal
    }

    func update(done: Int, total: Int) {
        guard enabled else { return }
        let now = Clock.now()
        guard now - lastDraw >= 0.1 || done == total else { return }
        lastDraw = now
        let elapsed = max(now - start, 1e-9)
        let percent = total > 0 ? Double(done) * 100 / Double(total) : 100
        let rate = Double(done) / elapsed
        let line = "\(label) \(ByteSize.formatted(percent, decimals: 0))%  \(ByteSize.describe(done)) / \(ByteSize.describe(total))  \(ByteSize.describe(Int(rate)))/s"
        Terminal.writeError("\r\u{1B}[2K" + line)
        drawn = true
    }

    func finish() {
        guard enabled, drawn else { return }
        Terminal.writeError("\r\u{1B}[2K")
    }
}

/// Monotonic seconds (`clock_gettime(CLOCK_MONOTONIC)`).
enum Clock {
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
