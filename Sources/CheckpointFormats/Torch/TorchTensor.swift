import CheckpointCore

/// A storage a pickle refers to by persistent id: the record `data/<key>` holding `byteCount` bytes.
public struct TorchStorage: Sendable, Equatable {
    public var key: String
    /// The storage class's element type (`u8` for `UntypedStorage`).
    public var dtype: DType
    /// Elements of `dtype` (bytes for an untyped storage), as the persistent id declares.
    public var elementCount: Int
    public var byteCount: Int
    public var location: String
}

/// A tensor as `_rebuild_tensor_v2/v3` describes it: a strided view of a storage, in elements.
public struct TorchTensor: Sendable, Equatable {
    public var storage: TorchStorage
    public var dtype: DType
    public var shape: [Int]
    public var stride: [Int]
    public var storageOffset: Int

    /// Whether the elements lie one after another in C order (sizes of 1 may have any stride), so
    /// that the tensor is one byte range of its storage.
    public var isContiguous: Bool {
        var expected = 1
        for (size, step) in zip(shape, stride).reversed() {
            if size == 0 { return true }
            if size != 1 && step != expected { return false }
            expected *= size
        }
        return true
    }

    /// The tensor's first byte within its storage (only meaningful once validated against it).
    public var byteOffset: Int { storageOffset * (dtype.bits / 8) }

    /// Same storage, offset, shape, strides and dtype: the same view under another name.
    public func isSameView(as other: TorchTensor) -> Bool {
        storage.key == other.storage.key && dtype == other.dtype && shape == other.shape && stride == other.stride
            && storageOffset == other.storageOffset
    }

    /// Whether the view covers every byte of its storage.
    public var coversStorage: Bool {
        isContiguous && storageOffset == 0 && (dtype.byteCount(elements: shape.reduce(1, *)) ?? -1) == storage.byteCount
    }
}
