import CheckpointCore

/// Writes a zip archive record by record exactly as PyTorch's writer (miniz 3.0.2 with
/// `MZ_ZIP_FLAG_WRITE_ZIP64`, no timestamps) lays it out (formats.md §3.2): stored records whose data
/// starts on a 64-byte boundary thanks to a "FB" padding field in the local header, local sizes and
/// CRC left 0 with a data descriptor after non-empty records, a central directory without the
/// padding, zip64 extras only for sizes or offsets past 4 GiB, and always a zip64 end record, its
/// locator and the classic end record.
public final class AlignedZipWriter {
    struct Record {
        var name: [UInt8]
        var size: Int
        var crc: UInt32
        var headerOffset: Int
    }

    public static let alignment = 64
    private let output: AtomicOutput
    private var records: [Record] = []
    private var offset = 0
    private var current: (record: Record, written: Int, crc: CRC32)?
    /// Sizes and offsets from this value on use zip64 fields; lowered by tests to exercise them.
    var zip64Threshold = Int(UInt32.max)

    public init(output: AtomicOutput) {
        self.output = output
    }

    /// Starts a stored record of exactly `size` bytes.
    public func beginRecord(name: String, size: Int) throws {
        guard current == nil else { throw WriterSequenceError(message: "\(output.destination): record started before the previous one ended") }
        let nameBytes = Array(name.utf8)
        let bigSize = size >= zip64Threshold, bigOffset = offset >= zip64Threshold
        var extra: [UInt8] = []
        if bigSize || bigOffset {
            extra.appendLE(ZipConstants.zip64ExtraID)
            extra.appendLE(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)))
            if bigSize {
                extra.appendLE(UInt64(size))
                extra.appendLE(UInt64(size))
            }
            if bigOffset { extra.appendLE(UInt64(offset)) }
        }
        let start = offset + ZipConstants.localHeaderSize + nameBytes.count + extra.count + 4
        let padding = (AlignedZipWriter.alignment - start % AlignedZipWriter.alignment) % AlignedZipWriter.alignment
        extra.appendLE(ZipConstants.paddingExtraID)
        extra.appendLE(UInt16(padding))
        extra += [UInt8](repeating: 0x5A, count: padding)
        var header: [UInt8] = []
        header.appendLE(ZipConstants.localHeaderSignature)
        header.appendLE(UInt16(0))
        header.appendLE(AlignedZipWriter.flags(size: size))
        header += [UInt8](repeating: 0, count: 18)  // method, time, date, CRC, sizes: all 0
        header.appendLE(UInt16(nameBytes.count))
        header.appendLE(UInt16(extra.count))
        try emit(header + nameBytes + extra)
        current = (Record(name: nameBytes, size: size, crc: 0, headerOffset: offset - header.count - nameBytes.count - extra.count), 0, CRC32())
    }

    /// Appends bytes of the current record.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard var state = current, bytes.count <= state.record.size - state.written else {
            throw WriterSequenceError(message: "\(output.destination): more bytes than the record declared")
        }
        state.crc.update(bytes)
        state.written += bytes.count
        current = state
        try output.write(bytes)
        offset += bytes.count
    }

    /// Appends `count` bytes of `file` at `position` to the current record, through a bounded buffer
    /// (the CRC-32 needs the bytes).
    public func append(from file: ReadOnlyFile, offset position: Int, count: Int) throws {
        let chunk = 1 << 22
        let buffer = OwnedBytes(count: min(chunk, max(count, 1)))
        var done = 0
        while done < count {
            let n = min(chunk, count - done)
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<n])
            try file.read(into: target, at: position + done)
            try append(UnsafeRawBufferPointer(target))
            done += n
        }
    }

    /// Ends the current record: checks its size and writes the data descriptor.
    public func endRecord() throws {
        guard var state = current, state.written == state.record.size else {
            throw WriterSequenceError(message: "\(output.destination): record ended before all its bytes were written")
        }
        current = nil
        state.record.crc = state.crc.value
        records.append(state.record)
        guard state.record.size > 0 else { return }
        var descriptor: [UInt8] = []
        descriptor.appendLE(ZipConstants.dataDescriptorSignature)
        descriptor.appendLE(state.record.crc)
        if state.record.size >= zip64Threshold || state.record.headerOffset >= zip64Threshold {
            descriptor.appendLE(UInt64(state.record.size))
            descriptor.appendLE(UInt64(state.record.size))
        } else {
            descriptor.appendLE(UInt32(state.record.size))
            descriptor.appendLE(UInt32(state.record.size))
        }
        try emit(descriptor)
    }

    /// A whole small record at once.
    public func addRecord(name: String, bytes: [UInt8]) throws {
        try beginRecord(name: name, size: bytes.count)
        try bytes.withUnsafeBytes { try append($0) }
        try endRecord()
    }

    /// The CRC-32 of every record written so far, in order.
    public var crcs: [UInt32] { records.map(\.crc) }

    /// Writes the central directory and end records, then commits the file.
    public func finish() throws {
        guard current == nil else { throw WriterSequenceError(message: "\(output.destination): finished inside a record") }
        let directoryOffset = offset
        var directory: [UInt8] = []
        for record in records {
            let bigSize = record.size >= zip64Threshold, bigOffset = record.headerOffset >= zip64Threshold
            var extra: [UInt8] = []
            if bigSize || bigOffset {
                extra.appendLE(ZipConstants.zip64ExtraID)
                extra.appendLE(UInt16((bigSize ? 16 : 0) + (bigOffset ? 8 : 0)))
                if bigSize {
                    extra.appendLE(UInt64(record.size))
                    extra.appendLE(UInt64(record.size))
                }
                if bigOffset { extra.appendLE(UInt64(record.headerOffset)) }
            }
            directory.appendLE(ZipConstants.centralHeaderSignature)
            directory.appendLE(UInt32(0))  // version made by, version needed
            directory.appendLE(AlignedZipWriter.flags(size: record.size))
            directory.appendLE(UInt16(0))  // method
            directory.appendLE(UInt32(0))  // time, date
            directory.appendLE(record.crc)
            let size32 = bigSize ? ZipConstants.u32Sentinel : UInt32(record.size)
            directory.appendLE(size32)
            directory.appendLE(size32)
            directory.appendLE(UInt16(record.name.count))
            directory.appendLE(UInt16(extra.count))
            directory += [UInt8](repeating: 0, count: 10)  // comment length, disk, internal and external attributes
            directory.appendLE(bigOffset ? ZipConstants.u32Sentinel : UInt32(record.headerOffset))
            directory += record.name + extra
        }
        try emit(directory)
        let endOffset = offset
        var tail: [UInt8] = []
        tail.appendLE(ZipConstants.zip64EndSignature)
        tail.appendLE(UInt64(44))
        tail.appendLE(UInt16(0x031E))
        tail.appendLE(UInt16(0x002D))
        tail.appendLE(UInt64(0))  // disk numbers
        tail.appendLE(UInt64(records.count))
        tail.appendLE(UInt64(records.count))
        tail.appendLE(UInt64(directory.count))
        tail.appendLE(UInt64(directoryOffset))
        tail.appendLE(ZipConstants.zip64LocatorSignature)
        tail.appendLE(UInt32(0))
        tail.appendLE(UInt64(endOffset))
        tail.appendLE(UInt32(1))
        tail.appendLE(ZipConstants.endOfCentralDirectorySignature)
        tail.appendLE(UInt32(0))
        tail.appendLE(UInt16(min(records.count, 0xFFFF)))
        tail.appendLE(UInt16(min(records.count, 0xFFFF)))
        tail.appendLE(UInt32(min(directory.count, Int(UInt32.max))))
        tail.appendLE(directoryOffset >= zip64Threshold ? ZipConstants.u32Sentinel : UInt32(directoryOffset))
        tail.appendLE(UInt16(0))
        try emit(tail)
        try output.commit()
    }

    public func abort() { output.abort() }

    private static func flags(size: Int) -> UInt16 {
        size > 0 ? ZipConstants.flagUTF8 | ZipConstants.flagDataDescriptor : ZipConstants.flagUTF8
    }

    private func emit(_ bytes: [UInt8]) throws {
        try output.write(bytes)
        offset += bytes.count
    }
}
