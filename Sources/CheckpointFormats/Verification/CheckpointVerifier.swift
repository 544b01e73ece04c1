import CheckpointCore

/// A full pass over an open checkpoint: every tensor's byte range read with `pread(2)` (never through
/// the mapping, so a file truncated or replaced meanwhile is an error, not a SIGBUS), values scanned for
/// NaN and infinity, optional SHA-256 of each tensor's bytes, and every zip record's CRC-32.
///
/// The structural rules (headers, offsets, coverage, overlaps, storage sizes) were already checked when
/// the reader opened the file. Memory stays bounded: tensors are read in chunks of `chunkElements`.
public struct CheckpointVerifier {
    public var sha256 = false
    public var scanValues = true
    /// Elements per read; a multiple of 256 so that every ggml block type divides it.
    public var chunkElements = 1 << 20

    public init(sha256: Bool = false, scanValues: Bool = true) {
        self.sha256 = sha256
        self.scanValues = scanValues
    }

    /// Verifies `reader`. `progress` receives (bytes done, bytes in all) after each chunk.
    public func verify(_ reader: any CheckpointReader, progress: ((Int, Int) -> Void)? = nil) -> VerificationReport {
        var report = VerificationReport(path: reader.path, format: reader.format, files: Self.files(of: reader))
        for warning in Self.structureWarnings(of: reader) {
            report.problems.append(VerificationProblem(kind: .structure, subject: reader.path, message: warning))
        }
        let total = reader.tensors.reduce(0) { $0 &+ $1.byteCount }
        let buffer = OwnedBytes(count: maxChunkBytes(reader.tensors))
        let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2 * chunkElements)
        defer { scratch.deallocate() }
        for index in reader.tensors.indices {
            let tensor = reader.tensors[index]
            var result = TensorVerification(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, byteCount: tensor.byteCount)
            do {
                let outcome = try check(reader, index, buffer: buffer, scratch: scratch) { done in
                    progress?(report.checkedBytes + done, total)
                }
                result.nonFinite = outcome.nonFinite
                result.sha256 = outcome.digest
                if let counts = outcome.nonFinite, counts.total > 0 {
                    report.problems.append(VerificationProblem(
                        kind: .nonFinite, subject: tensor.name,
                        message: "\(counts.nan) NaN and \(counts.infinite) infinite values among \(tensor.elementCount)"))
                }
            } catch {
                result.readable = false
                report.problems.append(VerificationProblem(kind: .unreadable, subject: tensor.name, message: "\(error)"))
            }
            report.checkedBytes += tensor.byteCount
            report.tensors.append(result)
            progress?(report.checkedBytes, total)
        }
        for archive in Self.zipArchives(of: reader) {
            for entry in archive.entries {
                do {
                    try Self.checkCRC(entry, in: archive, buffer: buffer)
                } catch {
                    report.problems.append(VerificationProblem(kind: .checksum, subject: entry.name, message: "\(error)"))
                }
                report.zipRecordsChecked += 1
            }
        }
        return report
    }

    // MARK: - One tensor

    private struct Outcome {
        var nonFinite: NonFiniteCount?
        var digest: String?
    }

    /// Bytes per chunk of `dtype`: whole elements (or blocks), `chunkElements` of them at most.
    private func chunkBytes(_ dtype: DType) -> Int {
        dtype.byteCount(elements: chunkElements) ?? 1 << 20
    }

    private func maxChunkBytes(_ tensors: [TensorInfo]) -> Int {
        tensors.reduce(1 << 20) { Swift.max($0, Swift.min(chunkBytes($1.dtype), $1.byteCount)) }
    }

    private func check(
        _ reader: any CheckpointReader, _ index: Int, buffer: OwnedBytes, scratch: UnsafeMutableBufferPointer<Float>,
        progress: (Int) -> Void
    ) throws -> Outcome {
        let tensor = reader.tensors[index]
        let scan = scanValues && NonFiniteCount.canScan(tensor.dtype)
        var counts = NonFiniteCount()
        var hasher = sha256 ? SHA256() : nil
        let step = chunkBytes(tensor.dtype)
        let elementsPerStep = step == tensor.dtype.byteCount(elements: chunkElements) ? chunkElements : 0
        func consume(_ bytes: UnsafeRawBufferPointer) throws {
            hasher?.update(bytes)
            guard scan, let elements = elementCount(of: bytes.count, tensor.dtype, full: (step, elementsPerStep)) else { return }
            try counts.add(bytes, dtype: tensor.dtype, count: elements, scratch: scratch)
        }
        if let source = reader.source(of: index) {
            // Positioned reads of the file itself: a short read is a RangeError, never a fault.
            var done = 0
            while done < source.count {
                let count = Swift.min(step, source.count - done)
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<count])
                try source.file.read(into: slice, at: source.offset + done)
                try consume(UnsafeRawBufferPointer(slice))
                done += count
                progress(done)
            }
        } else {
            // Materialised tensors (deflated, strided, big-endian, decompressed): the reader checked the
            // bytes while producing them.
            let data = try reader.data(at: index)
            try data.withBytes { bytes in
                var done = 0
                while done < bytes.count {
                    let count = Swift.min(step, bytes.count - done)
                    try consume(UnsafeRawBufferPointer(rebasing: bytes[done..<(done + count)]))
                    done += count
                    progress(done)
                }
            }
        }
        let digest = hasher.map { hasher in
            var hasher = hasher
            return hasher.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        return Outcome(nonFinite: scan ? counts : nil, digest: digest)
    }

    /// Elements in a chunk of `byteCount` bytes: whole steps hold `full.elements`; the last, shorter
    /// chunk is converted back from bytes.
    private func elementCount(of byteCount: Int, _ dtype: DType, full: (bytes: Int, elements: Int)) -> Int? {
        if byteCount == full.bytes && full.elements > 0 { return full.elements }
        if let layout = dtype.blockLayout { return byteCount / layout.bytes * layout.elements }
        let bits = dtype.bits
        guard bits >= 8 else { return nil }
        return byteCount / (bits / 8)
    }

    // MARK: - Containers

    static func files(of reader: any CheckpointReader) -> [String] {
        if let compressed = reader as? CompressedCheckpointReader { return [compressed.path] }
        if let sharded = reader as? ShardedSafeTensorsReader { return sharded.shards.map(\.path) }
        if let sharded = reader as? ShardedTorchReader { return sharded.shards.map(\.path) }
        if let split = reader as? GGUFSplitReader { return split.parts.map(\.path) }
        return [reader.path]
    }

    static func structureWarnings(of reader: any CheckpointReader) -> [String] {
        if let compressed = reader as? CompressedCheckpointReader { return structureWarnings(of: compressed.inner) }
        return (reader as? ShardedSafeTensorsReader)?.warnings ?? []
    }

    static func zipArchives(of reader: any CheckpointReader) -> [ZipArchive] {
        if let compressed = reader as? CompressedCheckpointReader { return zipArchives(of: compressed.inner) }
        if let torch = reader as? TorchReader { return [torch.archive.zip] }
        if let sharded = reader as? ShardedTorchReader { return sharded.shards.map(\.archive.zip) }
        return []
    }

    /// A stored record's CRC-32 computed from positioned reads; a deflated one is inflated (which
    /// checks its CRC-32). A stored CRC of 0 means "not computed" (zip writers that stream).
    static func checkCRC(_ entry: ZipEntry, in archive: ZipArchive, buffer: OwnedBytes) throws {
        guard entry.isStored else {
            _ = try archive.contents(of: entry)
            return
        }
        guard entry.crc32 != 0 else { return }
        var crc = CRC32()
        var done = 0
        while done < entry.compressedSize {
            let count = Swift.min(buffer.count, entry.compressedSize - done)
            let slice = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<count])
            try archive.file.read(into: slice, at: entry.dataOffset + done)
            crc.update(UnsafeRawBufferPointer(slice))
            done += count
        }
        let computed = crc.value
        guard computed == entry.crc32 else {
            throw ZipError.crcMismatch(file: archive.path, entry: entry.name, stored: entry.crc32, computed: computed)
        }
    }
}
