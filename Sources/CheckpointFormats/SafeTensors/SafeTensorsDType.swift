import CheckpointCore

/// The safetensors spelling of each dtype and its rank in the reference writer's sort (the declaration
/// order of the Rust `Dtype` enum; tensors are laid out by descending rank, then by name).
public enum SafeTensorsDType {
    /// Names in rank order (index = rank).
    static let ranked: [(String, DType)] = [
        ("BOOL", .bool), ("F4", .f4), ("F6_E2M3", .f6E2M3), ("F6_E3M2", .f6E3M2), ("U8", .u8), ("I8", .i8),
        ("F8_E5M2", .f8E5M2), ("F8_E4M3", .f8E4M3), ("F8_E8M0", .f8E8M0), ("F8_E4M3FNUZ", .f8E4M3FNUZ),
        ("F8_E5M2FNUZ", .f8E5M2FNUZ), ("I16", .i16), ("U16", .u16), ("F16", .f16), ("BF16", .bf16),
        ("I32", .i32), ("U32", .u32), ("F32", .f32), ("C64", .c64), ("F64", .f64), ("I64", .i64), ("U64", .u64),
    ]

    public static let allNames: [String] = ranked.map(\.0)

    public static func dtype(named name: String) -> DType? {
        ranked.first { $0.0.utf8.elementsEqual(name.utf8) }?.1
    }

    public static func name(of dtype: DType) -> String {
        ranked.first { $0.1 == dtype }?.0 ?? dtype.rawValue.uppercased()
    }

    public static func rank(of dtype: DType) -> Int {
        ranked.firstIndex { $0.1 == dtype } ?? 0
    }
}
