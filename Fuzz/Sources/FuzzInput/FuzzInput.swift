#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import CheckpointFormats

/// The fuzzer's bytes as a file, since every reader opens a path: one scratch file per process in
/// /dev/shm (memory), rewritten for each input.
public enum FuzzInput {
    nonisolated(unsafe) private static var paths: [String: String] = [:]

    /// Writes `data` to this process's scratch file named `name` and returns its path.
    public static func file(_ data: UnsafePointer<UInt8>?, _ size: Int, name: String) -> String {
        let path = paths[name] ?? {
            let made = "/dev/shm/ckpt-fuzz-\(getpid())-\(name)"
            paths[name] = made
            return made
        }()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("cannot create \(path)") }
        var done = 0
        while done < size, let data {
            let wrote = write(fd, data + done, size - done)
            guard wrote > 0 else { fatalError("cannot write \(path)") }
            done += wrote
        }
        close(fd)
        return path
    }

    /// A reader target: the bytes as a file named `name`, opened by `open`, every tensor then read.
    public static func reader(_ data: UnsafePointer<UInt8>?, _ size: Int, name: String, open: (String) throws -> any CheckpointReader) -> Int32 {
        guard let reader = try? open(file(data, size, name: name)) else { return 0 }
        touchAll(reader.data(at:), count: reader.tensors.count)
        return 0
    }

    /// Reads every tensor's bytes through the reader (the mapped or materialised path), as a
    /// consumer would, so that a range accepted at open but wrong in fact is touched.
    public static func touchAll(_ read: (Int) throws -> TensorData, count: Int) {
        var sum: UInt8 = 0
        for index in 0..<count {
            guard let data = try? read(index) else { continue }
            data.withBytes { bytes in
                var position = 0
                while position < bytes.count { sum &+= bytes[position]; position += 4096 }
                if let last = bytes.last { sum &+= last }
            }
        }
        if sum == 0x5A { _ = getpid() }  // Keeps the reads from being optimised away.
    }
}

/// libFuzzer's entry for programs with their own `main` (SwiftPM gives every executable one).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

public enum FuzzDriver {
    /// Hands the process to libFuzzer with `target` as the test function; never returns.
    public static func run(_ target: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, target))
    }
}
