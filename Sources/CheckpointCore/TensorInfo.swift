/// What a reader knows about one tensor before touching its bytes.
///
/// The shape is outermost-first (PyTorch / safetensors order); GGUF's `ne[]` is reversed at the GGUF
/// boundary and nowhere else. `elementCount` and `byteCount` are computed once, overflow-checked.
public struct TensorInfo: Sendable, Hashable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public let elementCount: Int
    public let byteCount: Int

    public init(name: String, dtype: DType, shape: [Int]) throws(TensorShapeError) {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { throw .negativeDimension(tensor: name, shape: shape) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw .overflow(tensor: name, shape: shape, dtype: dtype) }
            count = product
        }
        let bytes: Int
        if let block = dtype.blockLayout {
            // ggml blocks run along the innermost dimension (ggml's ne[0]).
            let rowLength = shape.last ?? 1
            guard rowLength % block.elements == 0 else {
                throw .partialBlock(tensor: name, rowLength: rowLength, dtype: dtype, blockElements: block.elements)
            }
            let (blockBytes, overflow) = (count / block.elements).multipliedReportingOverflow(by: block.bytes)
            guard !overflow else { throw .overflow(tensor: name, shape: shape, dtype: dtype) }
            bytes = blockBytes
        } else {
            let (bitCount, overflow) = count.multipliedReportingOverflow(by: dtype.bits)
            guard !overflow else { throw .overflow(tensor: name, shape: shape, dtype: dtype) }
            guard bitCount % 8 == 0 else { throw .partialByte(tensor: name, elements: count, dtype: dtype) }
            bytes = bitCount / 8
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.elementCount = count
        self.byteCount = bytes
    }

    /// The same tensor with another element type (same shape).
    public func with(dtype newType: DType) throws(TensorShapeError) -> TensorInfo {
        try TensorInfo(name: name, dtype: newType, shape: shape)
    }

    /// The same tensor under another name.
    public func renamed(_ newName: String) -> TensorInfo {
        var copy = self
        copy.name = newName
        return copy
    }
}

public enum TensorShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    case negativeDimension(tensor: String, shape: [Int])
    case overflow(tensor: String, shape: [Int], dtype: DType)
    case partialByte(tensor: String, elements: Int, dtype: DType)
    case partialBlock(tensor: String, rowLength: Int, dtype: DType, blockElements: Int)

    public var description: String {
        switch self {
        case let .negativeDimension(tensor, shape):
            return "tensor '\(escapedForTerminal(tensor))' has a negative dimension in shape \(shape)"
        case let .overflow(tensor, shape, dtype):
            return "tensor '\(escapedForTerminal(tensor))': shape \(shape) × \(dtype.userName) overflows a 64-bit byte count"
        case let .partialByte(tensor, elements, dtype):
            return "tensor '\(escapedForTerminal(tensor))': \(elements) elements of \(dtype.userName) (\(dtype.bits) bits) do not fill whole bytes"
        case let .partialBlock(tensor, rowLength, dtype, blockElements):
            return "tensor '\(escapedForTerminal(tensor))': rows of \(rowLength) elements are not a whole number of \(dtype.userName) blocks of \(blockElements)"
        }
    }
}
