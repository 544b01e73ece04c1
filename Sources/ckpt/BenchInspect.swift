import CheckpointCore
import CheckpointFormats
#if canImport(Glibc)
import Glibc
#endif

/// What opening a checkpoint for `ckpt inspect` costs, measured inside this process so that the bytes
/// it reads can be counted: the growth of `rchar` (/proc/self/io, every byte obtained through read-type
/// system calls) and of page faults (which would reveal reads through a mapping, invisible to `rchar`).
struct BenchInspect {
    var bytesRead: Int
    var pageFaults: Int
    /// Median over the runs.
    var seconds: Double

    static func measure(_ path: String, runs: Int) throws -> BenchInspect {
        var times: [Double] = []
        var bytes = 0, faults = 0
        for _ in 0..<runs {
            guard let before = BenchProcFile.bytesReadBySelf() else {
                throw BenchProcess.Failure(description: "cannot read /proc/self/io to count the bytes inspect reads")
            }
            let faultsBefore = pageFaultsSoFar()
            let start = Clock.now()
            let reader = try Checkpoint.open(path)
            let seconds = Clock.now() - start
            let faultsAfter = pageFaultsSoFar()
            let after = BenchProcFile.bytesReadBySelf() ?? before
            // Keep the reader alive until after the counters are read: tearing it down is not inspect's cost.
            withExtendedLifetime(reader) {}
            times.append(seconds)
            // The largest run: the first may read the header through a cold path, later ones not.
            bytes = max(bytes, after - before)
            faults = max(faults, faultsAfter - faultsBefore)
        }
        return BenchInspect(bytesRead: bytes, pageFaults: faults, seconds: BenchStatistics.median(times))
    }

    private static func pageFaultsSoFar() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int(usage.ru_minflt + usage.ru_majflt)
    }
}

enum BenchStatistics {
    /// The middle value (the mean of the two middle ones for an even count).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
