import CheckpointCore

/// A zip archive open for reading: its central directory parsed and validated at open, entries
/// located through their local headers (as torch's `getRecordOffset` does), data read zero-copy from
/// a mapping for stored entries and inflated through zlib for deflated ones.
///
/// Validation at open: end record found from the end of the file, zip64 locator and record followed
/// and cross-checked with the classic end record, the central directory inside the file, a bounded
/// entry count, each local header present and agreeing with its central entry, every entry's data
/// inside the area before the central directory, no two entries overlapping, names neither absolute
/// nor climbing with `..`, no duplicate names.
public final class ZipArchive: @unchecked Sendable {
    public let file: ReadOnlyFile
    public let entries: [ZipEntry]
    /// Offset of the central directory: every entry's data ends before it.
    public let centralDirectoryOffset: Int
    private var byName: [[UInt8]: Int] = [:]
    private var mapping: MappedFile?
    private let mappingLock = Mutex()

    public var path: String { file.path }

    public init(file: ReadOnlyFile, maxEntries: Int = ZipConstants.maxEntries) throws {
        self.file = file
        let path = file.path
        let end = try ZipArchive.findEndRecord(file)
        let directory = try ZipArchive.directoryLocation(file, endRecordOffset: end, maxEntries: maxEntries)
        let raw = try file.read(at: directory.offset, count: directory.size)
        var entries: [ZipEntry] = []
        entries.reserveCapacity(min(directory.count, 1 << 16))
        var position = 0
        let fields = LittleEndianFields(bytes: raw)
        for number in 0..<directory.count {
            guard position + ZipConstants.centralHeaderSize <= raw.count else {
                throw ZipError.centralDirectoryTruncated(file: path, entry: number)
            }
            guard fields.u32(position) == ZipConstants.centralHeaderSignature else {
                throw ZipError.badCentralSignature(file: path, entry: number, offset: directory.offset + position)
            }
            let nameLength = Int(fields.u16(position + 28))
            let extraLength = Int(fields.u16(position + 30))
            let commentLength = Int(fields.u16(position + 32))
            let total = ZipConstants.centralHeaderSize + nameLength + extraLength + commentLength
            guard position + total <= raw.count else { throw ZipError.centralDirectoryTruncated(file: path, entry: number) }
            let nameBytes = fields.slice(position + 46, nameLength)
            let name = String(decoding: nameBytes, as: UTF8.self)
            let extra = LittleEndianFields(bytes: fields.slice(position + 46 + nameLength, extraLength))
            let flags = fields.u16(position + 8)
            let method = fields.u16(position + 10)
            var compressed = UInt64(fields.u32(position + 20))
            var size = UInt64(fields.u32(position + 24))
            var offset = UInt64(fields.u32(position + 42))
            let disk = fields.u16(position + 34)
            try ZipArchive.applyZip64Extra(extra, size: &size, compressed: &compressed, offset: &offset, diskIsSentinel: disk == ZipConstants.u16Sentinel, file: path, entry: name)
            guard ZipArchive.isSafeName(nameBytes) else { throw ZipError.unsafeName(file: path, entry: name) }
            guard flags & ZipConstants.flagEncrypted == 0 else { throw ZipError.encrypted(file: path, entry: name) }
            guard method == ZipConstants.methodStored || method == ZipConstants.methodDeflated else {
                throw ZipError.unsupportedMethod(file: path, entry: name, method: method)
            }
            guard offset <= UInt64(Int.max), size <= UInt64(Int.max), compressed <= UInt64(Int.max) else {
                throw ZipError.dataOutOfRange(file: path, entry: name, offset: Int(clamping: offset), size: Int(clamping: compressed), limit: directory.offset)
            }
            if method == ZipConstants.methodStored && compressed != size {
                throw ZipError.storedSizeMismatch(file: path, entry: name, compressed: Int(compressed), size: Int(size))
            }
            var entry = ZipEntry(name: name, nameBytes: nameBytes, method: method, flags: flags, crc32: fields.u32(position + 16),
                                 compressedSize: Int(compressed), size: Int(size), localHeaderOffset: Int(offset), dataOffset: 0)
            entry.dataOffset = try ZipArchive.locateData(of: entry, in: file, dataLimit: directory.offset)
            if byName.updateValue(entries.count, forKey: nameBytes) != nil {
                throw ZipError.duplicateName(file: path, entry: name)
            }
            entries.append(entry)
            position += total
        }
        try ZipArchive.checkNoOverlap(entries, file: path)
        self.entries = entries
        self.centralDirectoryOffset = directory.offset
    }

    public convenience init(path: String) throws {
        try self.init(file: try ReadOnlyFile(path: path))
    }

    /// The entry named `name` (compared as UTF-8 bytes).
    public func entry(named name: String) -> ZipEntry? {
        byName[Array(name.utf8)].map { entries[$0] }
    }

    /// The entry's content: borrowed from the mapping when stored, inflated (and CRC-checked) when
    /// deflated. `verify` also checks a stored entry's CRC-32 (a recorded CRC of 0 means "not computed").
    public func contents(of entry: ZipEntry, verify: Bool = false) throws -> TensorData {
        let mapped = try mapped()
        let raw = try mapped.bytes(at: entry.dataOffset, count: entry.compressedSize)
        if entry.isStored {
            if verify { try check(entry, raw) }
            return TensorData(borrowing: raw, from: mapped)
        }
        let inflated = try Inflate.entry(raw, expectedSize: entry.size, file: path, entry: entry.name)
        try check(entry, UnsafeRawBufferPointer(inflated.bytes))
        return TensorData(owning: inflated)
    }

    /// Checks the CRC-32 of a stored entry by reading it (`verify` of `contents` without keeping it).
    public func verify(_ entry: ZipEntry) throws {
        _ = try contents(of: entry, verify: true)
        if entry.isStored { (try? mapped())?.release(offset: entry.dataOffset, count: entry.compressedSize) }
    }

    public func mapped() throws -> MappedFile {
        try mappingLock.locked { () throws -> MappedFile in
            if let mapping { return mapping }
            let made = try file.map()
            mapping = made
            return made
        }
    }

    private func check(_ entry: ZipEntry, _ bytes: UnsafeRawBufferPointer) throws {
        guard entry.crc32 != 0 || !entry.isStored else { return }
        let computed = CRC32.of(bytes)
        guard computed == entry.crc32 else {
            throw ZipError.crcMismatch(file: path, entry: entry.name, stored: entry.crc32, computed: computed)
        }
    }

    // MARK: - Parsing steps

    /// Offset of the end-of-central-directory record, searched backwards over the longest comment.
    private static func findEndRecord(_ file: ReadOnlyFile) throws -> Int {
        let size = file.size
        guard size >= ZipConstants.endOfCentralDirectorySize else { throw ZipError.noEndOfCentralDirectory(file: file.path) }
        let tailLength = min(size, ZipConstants.endOfCentralDirectorySize + ZipConstants.maxCommentLength)
        let tail = try file.read(at: size - tailLength, count: tailLength)
        let fields = LittleEndianFields(bytes: tail)
        var candidate = tailLength - ZipConstants.endOfCentralDirectorySize
        while candidate >= 0 {
            if fields.u32(candidate) == ZipConstants.endOfCentralDirectorySignature,
               candidate + ZipConstants.endOfCentralDirectorySize + Int(fields.u16(candidate + 20)) == tailLength {
                return size - tailLength + candidate
            }
            candidate -= 1
        }
        throw ZipError.noEndOfCentralDirectory(file: file.path)
    }

    private struct DirectoryLocation {
        var offset: Int
        var size: Int
        var count: Int
    }

    /// The central directory's place and entry count, from the end record and (when present or
    /// needed) the zip64 locator and record, cross-checked.
    private static func directoryLocation(_ file: ReadOnlyFile, endRecordOffset: Int, maxEntries: Int) throws -> DirectoryLocation {
        let path = file.path
        let end = LittleEndianFields(bytes: try file.read(at: endRecordOffset, count: ZipConstants.endOfCentralDirectorySize))
        let disk = end.u16(4), directoryDisk = end.u16(6)
        var countOnDisk = UInt64(end.u16(8)), count = UInt64(end.u16(10))
        var size = UInt64(end.u32(12)), offset = UInt64(end.u32(16))
        var limit = endRecordOffset
        let locatorOffset = endRecordOffset - ZipConstants.zip64LocatorSize
        var hasZip64 = false
        if locatorOffset >= 0 {
            let locator = LittleEndianFields(bytes: try file.read(at: locatorOffset, count: ZipConstants.zip64LocatorSize))
            if locator.u32(0) == ZipConstants.zip64LocatorSignature {
                hasZip64 = true
                guard locator.u32(4) == 0, locator.u32(16) <= 1 else { throw ZipError.multiDisk(file: path) }
                let recordOffset = locator.u64(8)
                guard recordOffset <= UInt64(locatorOffset - ZipConstants.zip64EndSize) || (locatorOffset >= ZipConstants.zip64EndSize && recordOffset == UInt64(locatorOffset - ZipConstants.zip64EndSize)) else {
                    throw ZipError.zip64LocatorInvalid(file: path, reason: "record offset \(recordOffset) is not before the locator at \(locatorOffset)")
                }
                let at = Int(recordOffset)
                let record = LittleEndianFields(bytes: try file.read(at: at, count: ZipConstants.zip64EndSize))
                guard record.u32(0) == ZipConstants.zip64EndSignature else {
                    throw ZipError.zip64RecordInvalid(file: path, offset: at, reason: "no PK\\6\\6 signature")
                }
                guard record.u64(4) >= 44 else {
                    throw ZipError.zip64RecordInvalid(file: path, offset: at, reason: "record size \(record.u64(4)) is below 44")
                }
                guard record.u32(16) == 0, record.u32(20) == 0 else { throw ZipError.multiDisk(file: path) }
                let zip64Values = (onDisk: record.u64(24), total: record.u64(32), size: record.u64(40), offset: record.u64(48))
                func reconcile(_ field: String, _ classic: UInt64, _ sentinel: UInt64, _ wide: UInt64) throws -> UInt64 {
                    if classic == sentinel || classic == wide { return wide }
                    throw ZipError.zip64Inconsistent(file: path, field: field, classic: classic, zip64: wide)
                }
                countOnDisk = try reconcile("entries on this disk", countOnDisk, 0xFFFF, zip64Values.onDisk)
                count = try reconcile("entry count", count, 0xFFFF, zip64Values.total)
                size = try reconcile("central directory size", size, 0xFFFF_FFFF, zip64Values.size)
                offset = try reconcile("central directory offset", offset, 0xFFFF_FFFF, zip64Values.offset)
                limit = at
            }
        }
        if !hasZip64 {
            if count == 0xFFFF { throw ZipError.zip64Missing(file: path, field: "the entry count") }
            if size == 0xFFFF_FFFF { throw ZipError.zip64Missing(file: path, field: "the central directory size") }
            if offset == 0xFFFF_FFFF { throw ZipError.zip64Missing(file: path, field: "the central directory offset") }
            guard disk == 0, directoryDisk == 0 else { throw ZipError.multiDisk(file: path) }
        }
        guard countOnDisk == count else { throw ZipError.multiDisk(file: path) }
        guard count <= UInt64(maxEntries) else { throw ZipError.tooManyEntries(file: path, count: count, limit: maxEntries) }
        guard offset <= UInt64(limit), size <= UInt64(limit) - offset else {
            throw ZipError.centralDirectoryOutOfRange(file: path, offset: offset, size: size, limit: limit)
        }
        guard count * UInt64(ZipConstants.centralHeaderSize) <= size else {
            throw ZipError.entryCountMismatch(file: path, declared: Int(count), found: Int(size) / ZipConstants.centralHeaderSize)
        }
        return DirectoryLocation(offset: Int(offset), size: Int(size), count: Int(count))
    }

    /// Replaces sentinel sizes and offset by the zip64 extra field's values (in APPNOTE's order).
    private static func applyZip64Extra(_ extra: LittleEndianFields, size: inout UInt64, compressed: inout UInt64, offset: inout UInt64, diskIsSentinel: Bool, file: String, entry: String) throws {
        let needed = [size == 0xFFFF_FFFF, compressed == 0xFFFF_FFFF, offset == 0xFFFF_FFFF]
        guard needed.contains(true) || diskIsSentinel else { return }
        var at = 0
        var field: LittleEndianFields?
        while at + 4 <= extra.bytes.count {
            let id = extra.u16(at), length = Int(extra.u16(at + 2))
            guard at + 4 + length <= extra.bytes.count else { break }
            if id == ZipConstants.zip64ExtraID { field = LittleEndianFields(bytes: extra.slice(at + 4, length)); break }
            at += 4 + length
        }
        let names = ["uncompressed size", "compressed size", "local header offset"]
        guard let field else {
            throw ZipError.zip64ExtraMissing(file: file, entry: entry, field: names[needed.firstIndex(of: true) ?? 0])
        }
        var cursor = 0
        var values = [size, compressed, offset]
        for index in 0..<3 where needed[index] {
            guard cursor + 8 <= field.bytes.count else { throw ZipError.zip64ExtraMissing(file: file, entry: entry, field: names[index]) }
            values[index] = field.u64(cursor)
            cursor += 8
        }
        size = values[0]
        compressed = values[1]
        offset = values[2]
    }

    /// Where the entry's data begins, from its local header, which must agree with the central one.
    private static func locateData(of entry: ZipEntry, in file: ReadOnlyFile, dataLimit: Int) throws -> Int {
        let path = file.path
        let offset = entry.localHeaderOffset
        guard offset <= dataLimit - ZipConstants.localHeaderSize else {
            throw ZipError.localHeaderOutOfRange(file: path, entry: entry.name, offset: offset)
        }
        let header = LittleEndianFields(bytes: try file.read(at: offset, count: ZipConstants.localHeaderSize))
        guard header.u32(0) == ZipConstants.localHeaderSignature else {
            throw ZipError.badLocalSignature(file: path, entry: entry.name, offset: offset)
        }
        guard header.u16(8) == entry.method else { throw ZipError.localHeaderMismatch(file: path, entry: entry.name, field: "compression method") }
        let nameLength = Int(header.u16(26)), extraLength = Int(header.u16(28))
        let dataOffset = offset + ZipConstants.localHeaderSize + nameLength + extraLength
        guard dataOffset <= dataLimit else { throw ZipError.localHeaderOutOfRange(file: path, entry: entry.name, offset: offset) }
        guard try file.read(at: offset + ZipConstants.localHeaderSize, count: nameLength) == entry.nameBytes else {
            throw ZipError.localHeaderMismatch(file: path, entry: entry.name, field: "name")
        }
        // Without a data descriptor the local header carries CRC and sizes, which must then agree.
        if header.u16(6) & ZipConstants.flagDataDescriptor == 0 {
            let localCompressed = header.u32(18), localSize = header.u32(22)
            if localCompressed != 0xFFFF_FFFF && Int(localCompressed) != entry.compressedSize {
                throw ZipError.localHeaderMismatch(file: path, entry: entry.name, field: "compressed size")
            }
            if localSize != 0xFFFF_FFFF && Int(localSize) != entry.size {
                throw ZipError.localHeaderMismatch(file: path, entry: entry.name, field: "size")
            }
            if header.u32(14) != entry.crc32 { throw ZipError.localHeaderMismatch(file: path, entry: entry.name, field: "CRC-32") }
        }
        guard entry.compressedSize <= dataLimit - dataOffset else {
            throw ZipError.dataOutOfRange(file: path, entry: entry.name, offset: dataOffset, size: entry.compressedSize, limit: dataLimit)
        }
        return dataOffset
    }

    private static func checkNoOverlap(_ entries: [ZipEntry], file: String) throws {
        let ordered = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (first, second) in zip(ordered, ordered.dropFirst()) where first.dataEnd > second.localHeaderOffset {
            throw ZipError.overlappingEntries(file: file, first: first.name, second: second.name)
        }
    }

    /// Names must be relative and stay inside the archive: no leading `/` or `\`, no drive letter,
    /// no `..` component, no NUL.
    static func isSafeName(_ name: [UInt8]) -> Bool {
        guard let first = name.first, first != UInt8(ascii: "/"), first != UInt8(ascii: "\\"), !name.contains(0) else { return false }
        if name.count >= 2 && name[1] == UInt8(ascii: ":") { return false }
        let parts = name.split(omittingEmptySubsequences: false) { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") }
        return !parts.contains { $0.elementsEqual("..".utf8) }
    }
}
