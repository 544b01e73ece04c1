/// Signatures, sentinels and limits of the zip container (PKWARE APPNOTE 6.3), as PyTorch's miniz
/// writes and reads them.
public enum ZipConstants {
    static let localHeaderSignature: UInt32 = 0x0403_4B50
    static let centralHeaderSignature: UInt32 = 0x0201_4B50
    static let endOfCentralDirectorySignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let dataDescriptorSignature: UInt32 = 0x0807_4B50

    static let localHeaderSize = 30
    static let centralHeaderSize = 46
    static let endOfCentralDirectorySize = 22
    static let zip64EndSize = 56
    static let zip64LocatorSize = 20
    static let maxCommentLength = 0xFFFF

    /// The zip64 extra field id, and PyTorch's padding field ("FB").
    static let zip64ExtraID: UInt16 = 0x0001
    static let paddingExtraID: UInt16 = 0x4246

    static let u32Sentinel: UInt32 = 0xFFFF_FFFF
    static let u16Sentinel: UInt16 = 0xFFFF

    static let methodStored: UInt16 = 0
    static let methodDeflated: UInt16 = 8
    static let flagEncrypted: UInt16 = 0x0001
    static let flagDataDescriptor: UInt16 = 0x0008
    static let flagUTF8: UInt16 = 0x0800

    /// Entries beyond this are refused: a checkpoint has one per storage, and the central directory
    /// is read into memory.
    public static let maxEntries = 4_000_000
}
