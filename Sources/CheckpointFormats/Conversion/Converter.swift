import CheckpointCore
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Streams a planned conversion from a reader into a writer, tensor by tensor.
///
/// Tensors kept as they are move inside the kernel (`sendfile`); cast tensors are read with `pread`
/// in fixed-size chunks and converted on all cores, so memory stays at two chunk buffers whatever the
/// tensor size.
public struct Converter {
    /// A failure while converting one tensor, naming it.
    public struct TensorError: Error, CustomStringConvertible {
        public let tensor: String
        public let underlying: Error
        public var description: String { "tensor '\(escapedForTerminal(tensor))': \(underlying)" }
    }

    public let reader: any CheckpointReader
    public let plan: ConversionPlan
    /// Elements converted per chunk.
    public var chunkElements = 1 << 20
    public var threads = max(1, min(8, sysconfProcessors()))

    public init(reader: any CheckpointReader, plan: ConversionPlan) {
        self.reader = reader
        self.plan = plan
    }

    /// Writes every planned tensor into `writer` (in its order) and finishes it. On any error the
    /// writer is aborted and the error rethrown. `progress` receives (bytes written, total bytes).
    public func run(into writer: any CheckpointWriter, progress: ((Int, Int) -> Void)? = nil) throws {
        let total = plan.outputBytes
        var done = 0
        var buffers: (input: OwnedBytes, output: OwnedBytes)?
        let pipeline = WritePipeline(writer: writer)
        do {
            for position in writer.writeOrder {
                let item = plan.items[position]
                if let bytes = item.generated {
                    try pipeline.drain()
                    try writer.write(UnsafeRawBufferPointer(bytes.bytes))
                    done += bytes.count
                    progress?(done, total)
                    continue
                }
                reader.willRead(item.source)
                defer { reader.didRead(item.source) }
                if item.isTransformed {
                    try pipeline.drain()
                    try writeTransformed(item, into: writer)
                    done += item.output.byteCount
                    progress?(done, total)
                    continue
                }
                if item.isCast && (item.sourceDType.isBlockQuantized || item.output.dtype.isBlockQuantized) {
                    try pipeline.drain()
                    try writeRecoded(item, into: writer) { bytes in
                        done += bytes
                        progress?(done, total)
                    }
                    continue
                }
                if !item.isCast {
                    try pipeline.drain()
                    if let source = reader.source(of: item.source) {
                        try writer.copy(from: source.file, offset: source.offset, count: source.count)
                    } else {
                        // Keep the data (and the buffer it may own) alive until written.
                        let data = try reader.data(at: item.source)
                        try withExtendedLifetime(data) { try writer.write(data.bytes) }
                    }
                    done += item.output.byteCount
                    progress?(done, total)
                    continue
                }
                let count = item.output.elementCount
                let inWidth = item.sourceDType.bits / 8
                let outWidth = item.output.dtype.bits / 8
                let chunk = min(chunkElements, max(count, 1))
                if buffers == nil || buffers!.input.count < chunk * inWidth {
                    buffers = (OwnedBytes(count: chunk * max(inWidth, 8)), OwnedBytes(count: 0))
                }
                guard let (inputBuffer, _) = buffers else { continue }
                let chunks = try TensorChunks(reader: reader, index: item.source)
                var start = 0
                while start < count {
                    let n = min(chunk, count - start)
                    let input = try chunks.bytes(at: start * inWidth, count: n * inWidth, buffer: inputBuffer)
                    let outputBuffer = try pipeline.nextBuffer(minimumCount: chunk * max(outWidth, 8))
                    let target = UnsafeMutableRawBufferPointer(rebasing: outputBuffer.bytes[0..<(n * outWidth)])
                    do {
                        try convertInParallel(input, item.sourceDType, target, item.output.dtype, n)
                    } catch {
                        throw TensorError(tensor: item.output.name, underlying: error)
                    }
                    withExtendedLifetime(chunks) {}
                    pipeline.submit(outputBuffer, count: n * outWidth)
                    done += n * outWidth
                    progress?(done, total)
                    start += n
                }
            }
            try pipeline.drain()
            try writer.finish()
        } catch {
            try? pipeline.drain()
            writer.abort()
            throw error
        }
    }

    /// Splits one chunk across `threads` workers (element ranges aligned to whole elements).
    func convertInParallel(_ source: UnsafeRawBufferPointer, _ from: DType, _ target: UnsafeMutableRawBufferPointer, _ to: DType, _ count: Int) throws {
        let workers = count >= 1 << 16 ? threads : 1
        let inWidth = from.bits / 8
        let outWidth = to.bits / 8
        let per = (count + workers - 1) / workers
        let failures = FailureBox()
        // Workers write disjoint ranges of `target`; the pointers outlive `concurrentPerform`.
        nonisolated(unsafe) let source = source
        nonisolated(unsafe) let target = target
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let lower = worker * per
            let upper = min(count, lower + per)
            guard lower < upper else { return }
            do {
                try ElementConverter.convert(
                    UnsafeRawBufferPointer(rebasing: source[(lower * inWidth)..<(upper * inWidth)]), from: from,
                    into: UnsafeMutableRawBufferPointer(rebasing: target[(lower * outWidth)..<(upper * outWidth)]), to: to,
                    count: upper - lower)
            } catch {
                failures.record(error)
            }
        }
        if let error = failures.first { throw error }
    }
}

/// Overlaps writing converted chunks with reading and converting the next ones: a serial queue
/// writes while the caller fills the other of two output buffers, so `pread`, the conversion and
/// `write` no longer wait for each other (on two cores the kernel copies dominate).
final class WritePipeline: @unchecked Sendable {
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private let queue = DispatchQueue(label: "ckpt.convert.writer")
    private let group = DispatchGroup()
    private let failures = FailureBox()
    private var buffers: [OwnedBytes?] = [nil, nil]
    private let free = [DispatchSemaphore(value: 1), DispatchSemaphore(value: 1)]
    private var slot = 0
    /// Slots taken by `nextBuffer` and not yet submitted (a conversion failed in between): their
    /// semaphores are given back at deinit, which Dispatch requires.
    private var held = [false, false]

    init(writer: any CheckpointWriter) { self.sink = writer.write }

    /// A pipeline into any byte sink (the zstd decompressor writes its scratch file through one).
    init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.sink = sink }

    deinit {
        group.wait()
        for index in held.indices where held[index] { free[index].signal() }
    }

    /// The next output buffer, once the writer has finished with it.
    func nextBuffer(minimumCount: Int) throws -> OwnedBytes {
        free[slot].wait()
        if let error = failures.first {
            free[slot].signal()
            throw error
        }
        held[slot] = true
        if let buffer = buffers[slot], buffer.count >= minimumCount { return buffer }
        let buffer = OwnedBytes(count: minimumCount)
        buffers[slot] = buffer
        return buffer
    }

    /// Queues the first `count` bytes of the buffer returned by `nextBuffer` for writing.
    func submit(_ buffer: OwnedBytes, count: Int) {
        let index = slot
        held[index] = false
        slot ^= 1
        queue.async(group: group) { [self] in
            if failures.first == nil {
                do { try sink(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<count])) } catch { failures.record(error) }
            }
            free[index].signal()
        }
    }

    /// Waits for every queued write; rethrows the first write error.
    func drain() throws {
        group.wait()
        if let error = failures.first { throw error }
    }
}

/// Collects the first error of concurrent workers.
final class FailureBox: @unchecked Sendable {
    private let lock = Mutex()
    private var error: Error?

    func record(_ failure: Error) { lock.locked { if error == nil { error = failure } } }
    var first: Error? { lock.locked { error } }
}

func sysconfProcessors() -> Int {
    Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
}
