import ArgumentParser
import CheckpointCore
#if canImport(Glibc)
import Glibc
#endif

// Interruptions must remove temporary outputs before anything else can go wrong.
TemporaryFiles.installSignalCleanup()

do {
    var command = try Ckpt.parseAsRoot()
    try command.run()
} catch {
    exit(ExitStatus.report(error))
}
