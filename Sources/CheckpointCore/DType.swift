/// Element types of the checkpoint formats, independent of any format's spelling.
///
/// Each format maps its own names or ids to these cases in its own folder (for example
/// `SafeTensorsDType.swift`). Sub-byte types (`f4`, `f6E2M3`, `f6E3M2`) are packed: a tensor's byte size
/// is `elements × bits / 8`, which must be whole.
public enum DType: String, CaseIterable, Sendable, Hashable {
    case bool
    case u8, i8, i16, u16, i32, u32, i64, u64
    case f16, bf16, f32, f64
    case f8E4M3, f8E5M2, f8E4M3FNUZ, f8E5M2FNUZ, f8E8M0
    case f4, f6E2M3, f6E3M2
    case c64

    /// Bits per element.
    public var bits: Int {
        switch self {
        case .bool, .u8, .i8, .f8E4M3, .f8E5M2, .f8E4M3FNUZ, .f8E5M2FNUZ, .f8E8M0: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .i64, .u64, .f64, .c64: return 64
        case .f4: return 4
        case .f6E2M3, .f6E3M2: return 6
        }
    }

    /// Real floating-point types: the ones `convert --dtype` casts.
    public var isFloatingPoint: Bool { floatFormat != nil || self == .f32 || self == .f64 }

    public var isInteger: Bool {
        switch self {
        case .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: return true
        default: return false
        }
    }

    public var isSigned: Bool {
        switch self {
        case .i8, .i16, .i32, .i64: return true
        default: return false
        }
    }

    /// The layout of the small float types (everything narrower than `f32`); nil for others.
    public var floatFormat: FloatFormat? {
        switch self {
        case .f16: return .f16
        case .bf16: return .bf16
        case .f8E4M3: return .f8E4M3
        case .f8E5M2: return .f8E5M2
        case .f8E4M3FNUZ: return .f8E4M3FNUZ
        case .f8E5M2FNUZ: return .f8E5M2FNUZ
        case .f8E8M0: return .f8E8M0
        case .f4: return .f4E2M1
        case .f6E2M3: return .f6E2M3
        case .f6E3M2: return .f6E3M2
        default: return nil
        }
    }

    /// Bytes used by `elements` elements, or nil when the product overflows or a sub-byte tensor
    /// does not fill whole bytes.
    public func byteCount(elements: Int) -> Int? {
        let (bitCount, overflow) = elements.multipliedReportingOverflow(by: bits)
        guard !overflow, bitCount % 8 == 0 else { return nil }
        return bitCount / 8
    }

    /// A lower-case name for users (`bf16`, `f8_e4m3`), accepted by `DType(userName:)`.
    public var userName: String {
        switch self {
        case .f8E4M3: return "f8_e4m3"
        case .f8E5M2: return "f8_e5m2"
        case .f8E4M3FNUZ: return "f8_e4m3fnuz"
        case .f8E5M2FNUZ: return "f8_e5m2fnuz"
        case .f8E8M0: return "f8_e8m0"
        case .f6E2M3: return "f6_e2m3"
        case .f6E3M2: return "f6_e3m2"
        default: return rawValue
        }
    }

    /// Parses a user-typed dtype: `bf16`, `BF16`, `float16`, `half`, `f8_e4m3`, `F8_E4M3`, `float8_e4m3fn`...
    public init?(userName: String) {
        let key = String(userName.lowercased().map { $0 == "-" ? "_" : $0 })
        let aliases: [String: DType] = [
            "float16": .f16, "half": .f16, "fp16": .f16, "bfloat16": .bf16,
            "float32": .f32, "float": .f32, "fp32": .f32, "float64": .f64, "double": .f64, "fp64": .f64,
            "float8_e4m3fn": .f8E4M3, "float8_e5m2": .f8E5M2, "float8_e4m3fnuz": .f8E4M3FNUZ,
            "float8_e5m2fnuz": .f8E5M2FNUZ, "float8_e8m0fnu": .f8E8M0, "f8_e4m3fn": .f8E4M3,
            "float4_e2m1fn": .f4, "bool": .bool, "uint8": .u8, "int8": .i8, "int16": .i16, "uint16": .u16,
            "int32": .i32, "uint32": .u32, "int64": .i64, "uint64": .u64, "complex64": .c64,
        ]
        if let hit = aliases[key] { self = hit; return }
        guard let hit = DType.allCases.first(where: { $0.userName == key }) else { return nil }
        self = hit
    }
}
