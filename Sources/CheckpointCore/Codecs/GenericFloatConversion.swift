/// Float conversions without a dedicated kernel (anything involving float8, or f64 to a half type):
/// each element is widened exactly to `Double` and rounded into the target with the reference's rule
/// (`FloatFormat.encode(float64:)`). A Float32 source keeps its exact bits, so NaN payloads follow the
/// references too.
enum GenericFloatConversion {
    static func convert(
        _ src: UnsafeRawPointer, from: DType, into dst: UnsafeMutableRawPointer, to: DType, count: Int
    ) {
        if from == .f32, let format = to.floatFormat {
            for i in 0..<count {
                let bits = format.encode(float32Bits: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                storeBits(bits, dst, i, format)
            }
            return
        }
        for i in 0..<count {
            let value = load(src, i, from)
            store(value, dst, i, to)
        }
    }

    @inline(__always)
    static func storeBits(_ bits: UInt32, _ dst: UnsafeMutableRawPointer, _ i: Int, _ format: FloatFormat) {
        if format.totalBits > 8 {
            dst.storeBytes(of: UInt16(truncatingIfNeeded: bits), toByteOffset: i * 2, as: UInt16.self)
        } else {
            dst.storeBytes(of: UInt8(truncatingIfNeeded: bits), toByteOffset: i, as: UInt8.self)
        }
    }

    @inline(__always)
    static func load(_ src: UnsafeRawPointer, _ i: Int, _ type: DType) -> Double {
        switch type {
        case .f64: return Double(bitPattern: src.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        case .f32: return Double(Float(bitPattern: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        case .f16: return Double(Float(bitPattern: HalfPrecision.f16ToF32Bits(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
        case .bf16: return Double(Float(bitPattern: HalfPrecision.bf16ToF32Bits(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
        default:
            // 8-bit formats (packed ones never reach here; see ElementConverter.canConvert).
            return SmallFloatTables.decode(type, src.load(fromByteOffset: i, as: UInt8.self))
        }
    }

    @inline(__always)
    static func store(_ value: Double, _ dst: UnsafeMutableRawPointer, _ i: Int, _ type: DType) {
        switch type {
        case .f64: dst.storeBytes(of: value.bitPattern, toByteOffset: i * 8, as: UInt64.self)
        case .f32: dst.storeBytes(of: Float(value).bitPattern, toByteOffset: i * 4, as: UInt32.self)
        default:
            guard let format = type.floatFormat else { return }
            storeBits(format.encode(float64: value), dst, i, format)
        }
    }
}

/// Decode tables for the 8-bit float formats: 256 exact values each, built once.
enum SmallFloatTables {
    static let f8E4M3 = table(.f8E4M3)
    static let f8E5M2 = table(.f8E5M2)
    static let f8E4M3FNUZ = table(.f8E4M3FNUZ)
    static let f8E5M2FNUZ = table(.f8E5M2FNUZ)
    static let f8E8M0 = table(.f8E8M0)

    private static func table(_ format: FloatFormat) -> [Double] {
        (0..<256).map { format.decode(UInt32($0)) }
    }

    @inline(__always)
    static func decode(_ type: DType, _ byte: UInt8) -> Double {
        switch type {
        case .f8E4M3: return f8E4M3[Int(byte)]
        case .f8E5M2: return f8E5M2[Int(byte)]
        case .f8E4M3FNUZ: return f8E4M3FNUZ[Int(byte)]
        case .f8E5M2FNUZ: return f8E5M2FNUZ[Int(byte)]
        case .f8E8M0: return f8E8M0[Int(byte)]
        default: return type.floatFormat?.decode(UInt32(byte)) ?? .nan
        }
    }
}
