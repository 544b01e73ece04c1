/// Facts about a PyTorch checkpoint that `inspect` reports and conversions carry.
public struct TorchFileInfo: Sendable {
    /// The archive folder (the saved file's stem).
    public var folder: String
    public var version: Int?
    public var bigEndian: Bool
    public var pickleProtocol: Int?
    /// Path of the chosen state dict inside the file ("" for the top level).
    public var stateDictKey: String
    /// Content other than the chosen state dict (epochs, optimizer state...), skipped.
    public var otherContent: [(path: String, summary: String)]
    /// Tensors that view part of a storage another tensor also views (written separately).
    public var sharedStorage: [(name: String, with: String)]
    /// Number of storage records the state dict refers to.
    public var storageCount: Int
}
