/// The bytes of one tensor: a borrowed range of a mapped file (zero copy) or a buffer it owns.
///
/// The owner (the `MappedFile` or the `OwnedBytes`) is retained, so the bytes stay valid as long as
/// this value lives.
public struct TensorData: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?

    public init(borrowing bytes: UnsafeRawBufferPointer, from owner: AnyObject) {
        self.bytes = bytes
        self.owner = owner
    }

    public init(owning buffer: OwnedBytes) {
        self.bytes = UnsafeRawBufferPointer(buffer.bytes)
        self.owner = buffer
    }

    public var count: Int { bytes.count }

    /// Runs `body` with the bytes while this value (and so their owner) is alive: prefer this to
    /// reading `bytes` from a temporary, which Swift may release before the bytes are used.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(bytes) }
    }

    /// A copy of the bytes.
    public var byteArray: [UInt8] { withBytes { Array($0) } }
}

/// A heap buffer with a stable, 64-byte aligned address, for tensors that had to be materialised.
public final class OwnedBytes: @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer
    public let count: Int

    public init(count: Int) {
        storage = .allocate(byteCount: Swift.max(count, 1), alignment: 64)
        self.count = count
    }

    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]) }

    deinit { storage.deallocate() }
}
