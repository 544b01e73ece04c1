/// One member of a zip archive, as its central directory describes it and its local header places it.
public struct ZipEntry: Sendable, Equatable {
    public var name: String
    /// The name's bytes as stored (names are compared as bytes).
    public var nameBytes: [UInt8]
    public var method: UInt16
    public var flags: UInt16
    public var crc32: UInt32
    public var compressedSize: Int
    public var size: Int
    public var localHeaderOffset: Int
    /// Absolute offset of the first data byte: local header + its name + its extra field.
    public var dataOffset: Int

    public var isStored: Bool { method == ZipConstants.methodStored }
    /// End of the entry's data in the file.
    public var dataEnd: Int { dataOffset + compressedSize }
}
