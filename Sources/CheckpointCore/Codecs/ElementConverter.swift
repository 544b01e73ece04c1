#if canImport(Glibc)
import Glibc
#endif

/// Why a buffer of elements could not be converted.
public enum ConversionError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupported(from: DType, to: DType, reason: String)
    case integerOutOfRange(from: DType, to: DType, element: Int, value: String)
    case bufferTooSmall(needed: Int, available: Int)

    public var description: String {
        switch self {
        case let .unsupported(from, to, reason):
            return "cannot convert \(from.userName) to \(to.userName): \(reason)"
        case let .integerOutOfRange(from, to, element, value):
            return "element \(element) (\(value)) of a \(from.userName) tensor does not fit in \(to.userName); choose a wider integer type"
        case let .bufferTooSmall(needed, available):
            return "conversion buffer holds \(available) bytes but \(needed) are needed"
        }
    }
}

/// Converts packed little-endian element buffers between dtypes.
///
/// Float to float goes through fast, vectorizable kernels for the common pairs (f32/f16/bf16) and
/// through exact `Double` arithmetic with a single rounding otherwise. Integers convert to integers
/// with a range check (never a silent wrap). Sub-byte packed types (F4, F6) are copied but not cast:
/// tools disagree on their packing order.
public enum ElementConverter {
    /// Whether `convert` can turn `source` into `target`.
    public static func canConvert(_ source: DType, to target: DType) -> Bool {
        if source == target { return true }
        if source.isFloatingPoint && target.isFloatingPoint { return !source.isPacked && !target.isPacked }
        return source.isInteger && target.isInteger
    }

    /// Converts `count` elements from `source` (typed `from`) into `destination` (typed `to`).
    /// Both buffers may be unaligned.
    public static func convert(
        _ source: UnsafeRawBufferPointer, from: DType,
        into destination: UnsafeMutableRawBufferPointer, to: DType, count: Int
    ) throws(ConversionError) {
        guard let inBytes = from.byteCount(elements: count), let outBytes = to.byteCount(elements: count) else {
            throw .unsupported(from: from, to: to, reason: "\(count) elements do not fill whole bytes")
        }
        guard source.count >= inBytes else { throw .bufferTooSmall(needed: inBytes, available: source.count) }
        guard destination.count >= outBytes else { throw .bufferTooSmall(needed: outBytes, available: destination.count) }
        guard count > 0 else { return }
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        if from == to {
            memcpy(dst, src, inBytes)
            return
        }
        guard canConvert(from, to: to) else {
            let reason = from.isPacked || to.isPacked
                ? "packed 4/6-bit tensors are copied as they are, not cast"
                : "only float↔float and integer↔integer casts are defined"
            throw .unsupported(from: from, to: to, reason: reason)
        }
        if from.isInteger {
            try IntegerConversion.convert(src, from: from, into: dst, to: to, count: count)
            return
        }
        if FastFloatKernels.convert(src, from: from, into: dst, to: to, count: count) { return }
        GenericFloatConversion.convert(src, from: from, into: dst, to: to, count: count)
    }
}

extension DType {
    /// Sub-byte types whose elements share bytes.
    public var isPacked: Bool { bits < 8 }
}
