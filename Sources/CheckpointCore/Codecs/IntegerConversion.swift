/// Integer to integer casts. A value that does not fit the target is an error naming the element:
/// a checkpoint tool must never wrap token ids or indices silently.
enum IntegerConversion {
    static func convert(
        _ src: UnsafeRawPointer, from: DType, into dst: UnsafeMutableRawPointer, to: DType, count: Int
    ) throws(ConversionError) {
        for i in 0..<count {
            let value = load(src, i, from)
            guard store(value, dst, i, to) else {
                throw .integerOutOfRange(from: from, to: to, element: i, value: value.description)
            }
        }
    }

    /// An integer of any source type, kept exactly (U64 above Int64.max included).
    struct Value: CustomStringConvertible {
        var negative: Bool
        var magnitude: UInt64
        var description: String { negative ? "-\(magnitude)" : "\(magnitude)" }
    }

    static func load(_ src: UnsafeRawPointer, _ i: Int, _ type: DType) -> Value {
        func signed<T: FixedWidthInteger & SignedInteger>(_: T.Type) -> Value {
            let v = src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
            return Value(negative: v < 0, magnitude: UInt64(v.magnitude))
        }
        func unsigned<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) -> Value {
            Value(negative: false, magnitude: UInt64(src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)))
        }
        switch type {
        case .i8: return signed(Int8.self)
        case .i16: return signed(Int16.self)
        case .i32: return signed(Int32.self)
        case .i64: return signed(Int64.self)
        case .u8: return unsigned(UInt8.self)
        case .u16: return unsigned(UInt16.self)
        case .u32: return unsigned(UInt32.self)
        default: return unsigned(UInt64.self)
        }
    }

    /// Stores `value`; false when it does not fit.
    static func store(_ value: Value, _ dst: UnsafeMutableRawPointer, _ i: Int, _ type: DType) -> Bool {
        func signed<T: FixedWidthInteger & SignedInteger>(_: T.Type) -> Bool {
            let result: T?
            if value.negative {
                result = value.magnitude <= UInt64(T.max) + 1 ? T(truncatingIfNeeded: 0 &- value.magnitude) : nil
            } else {
                result = value.magnitude <= UInt64(T.max) ? T(value.magnitude) : nil
            }
            guard let result else { return false }
            dst.storeBytes(of: result, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            return true
        }
        func unsigned<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) -> Bool {
            guard !value.negative || value.magnitude == 0, value.magnitude <= UInt64(T.max) else { return false }
            dst.storeBytes(of: T(value.magnitude), toByteOffset: i * MemoryLayout<T>.size, as: T.self)
            return true
        }
        switch type {
        case .i8: return signed(Int8.self)
        case .i16: return signed(Int16.self)
        case .i32: return signed(Int32.self)
        case .i64: return signed(Int64.self)
        case .u8: return unsigned(UInt8.self)
        case .u16: return unsigned(UInt16.self)
        case .u32: return unsigned(UInt32.self)
        default: return unsigned(UInt64.self)
        }
    }
}
