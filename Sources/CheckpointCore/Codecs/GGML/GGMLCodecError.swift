/// What a ggml block codec was asked to do.
public enum GGMLCodecOperation: String, Sendable, Equatable {
    case dequantization, quantization
}

/// Why a buffer could not be converted to or from a ggml block type.
public enum GGMLCodecError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The type is not a ggml block type ckpt can convert in that direction.
    case unsupported(DType, GGMLCodecOperation)
    /// The quantized bytes are not a whole number of blocks.
    case partialBlock(DType, byteCount: Int)
    /// The float buffer of a dequantization does not hold exactly the decoded elements.
    case destinationFloats(DType, expected: Int, actual: Int)
    /// The byte buffer of a quantization does not hold exactly the encoded blocks.
    case destinationBytes(DType, expected: Int, actual: Int)
    /// The row length of a quantization is not a positive multiple of the block size.
    case rowLength(DType, rowLength: Int)
    /// The floats of a quantization are not a whole number of rows.
    case partialRow(DType, count: Int, rowLength: Int)
    /// A NaN or infinity among the floats to quantize: the ggml quantizers give garbage for them.
    case nonFinite(DType, index: Int)

    public var description: String {
        switch self {
        case let .unsupported(type, operation):
            let advice = operation == .quantization ? GGMLCodec.quantizationAdvice(type).map { "; \($0)" } ?? "" : ""
            return "\(type.ggmlLabel) is not supported for \(operation.rawValue)\(advice)"
        case let .partialBlock(type, byteCount):
            let bytes = type.blockLayout?.bytes ?? 0
            return "\(type.ggmlLabel) data of \(byteCount) bytes is not a whole number of \(bytes)-byte blocks; the tensor is truncated or its type is wrong"
        case let .destinationFloats(type, expected, actual):
            return "\(type.ggmlLabel) data decodes to \(expected) floats but the destination holds \(actual)"
        case let .destinationBytes(type, expected, actual):
            return "\(type.ggmlLabel) encoding needs \(expected) bytes but the destination holds \(actual)"
        case let .rowLength(type, rowLength):
            let elements = type.blockLayout?.elements ?? 0
            return "row length \(rowLength) is not a positive multiple of the \(type.ggmlLabel) block size \(elements); keep such a tensor in float"
        case let .partialRow(type, count, rowLength):
            return "\(count) floats are not a whole number of rows of \(rowLength) for \(type.ggmlLabel)"
        case let .nonFinite(type, index):
            return "element \(index) is NaN or infinite; \(type.ggmlLabel) cannot encode it (fix the tensor or keep it in float)"
        }
    }
}
