import CheckpointCore

/// Why a merge into a quantized GGUF base cannot go on, and what to do instead.
public enum GGUFSurgeryError: Error, Sendable, CustomStringConvertible {
    case cannotRequantize(tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case let .cannotRequantize(tensor, dtype):
            return "base tensor '\(escapedForTerminal(tensor))' is \(dtype.ggmlName ?? dtype.userName), which ckpt can read but not quantize back after the merge; pass --requant-fallback f16 (or f32, bf16) to write the merged tensors of such types unquantized, or merge into an unquantized base\(GGMLCodec.quantizationAdvice(dtype).map { " (\($0))" } ?? "")"
        }
    }
}
