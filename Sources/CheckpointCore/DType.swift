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
    // ggml block-quantized types, in ggml type-id order.
    case q4_0, q4_1, q5_0, q5_1, q8_0, q8_1
    case q2K = "q2_k", q3K = "q3_k", q4K = "q4_k", q5K = "q5_k", q6K = "q6_k", q8K = "q8_k"
    case iq2XXS = "iq2_xxs", iq2XS = "iq2_xs", iq3XXS = "iq3_xxs", iq1S = "iq1_s", iq4NL = "iq4_nl"
    case iq3S = "iq3_s", iq2S = "iq2_s", iq4XS = "iq4_xs", iq1M = "iq1_m"
    case tq1_0, tq2_0, mxfp4

    /// Elements per block and bytes per block of a ggml block type (ggml's `blck_size`, `type_size`);
    /// nil for element types.
    public var blockLayout: (elements: Int, bytes: Int)? {
        switch self {
        case .q4_0: return (32, 18)
        case .q4_1: return (32, 20)
        case .q5_0: return (32, 22)
        case .q5_1: return (32, 24)
        case .q8_0: return (32, 34)
        case .q8_1: return (32, 36)
        case .q2K: return (256, 84)
        case .q3K: return (256, 110)
        case .q4K: return (256, 144)
        case .q5K: return (256, 176)
        case .q6K: return (256, 210)
        case .q8K: return (256, 292)
        case .iq2XXS: return (256, 66)
        case .iq2XS: return (256, 74)
        case .iq3XXS: return (256, 98)
        case .iq1S: return (256, 50)
        case .iq4NL: return (32, 18)
        case .iq3S: return (256, 110)
        case .iq2S: return (256, 82)
        case .iq4XS: return (256, 136)
        case .iq1M: return (256, 56)
        case .tq1_0: return (256, 54)
        case .tq2_0: return (256, 66)
        case .mxfp4: return (32, 17)
        default: return nil
        }
    }

    public var isBlockQuantized: Bool { blockLayout != nil }

    /// Bits per element of an element type; 0 for ggml block types (whose size is per block: use
    /// `blockLayout` or `byteCount(elements:)`).
    public var bits: Int {
        switch self {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .q2K, .q3K, .q4K, .q5K, .q6K, .q8K, .iq2XXS, .iq2XS,
             .iq3XXS, .iq1S, .iq4NL, .iq3S, .iq2S, .iq4XS, .iq1M, .tq1_0, .tq2_0, .mxfp4:
            return 0
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

    /// Bytes used by `elements` elements, or nil when the product overflows, a sub-byte tensor
    /// does not fill whole bytes or a block-quantized tensor does not fill whole blocks.
    public func byteCount(elements: Int) -> Int? {
        if let block = blockLayout {
            guard elements % block.elements == 0 else { return nil }
            let (bytes, overflow) = (elements / block.elements).multipliedReportingOverflow(by: block.bytes)
            return overflow ? nil : bytes
        }
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
