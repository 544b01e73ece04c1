import CheckpointCore

/// The ggml tensor type ids (ggml `enum ggml_type`) and their mapping to `DType`: the one table every
/// GGUF reader and writer consults.
public enum GGMLType {
    /// ggml's `GGML_TYPE_COUNT` as of the newest ids we know by name; larger ids are invalid.
    public static let idCount: UInt32 = 43

    /// (id, ggml name, our dtype) for every id a file may hold; dtype nil when ckpt cannot represent it.
    static let table: [(id: UInt32, name: String, dtype: DType?)] = [
        (0, "F32", .f32), (1, "F16", .f16), (2, "Q4_0", .q4_0), (3, "Q4_1", .q4_1),
        (6, "Q5_0", .q5_0), (7, "Q5_1", .q5_1), (8, "Q8_0", .q8_0), (9, "Q8_1", .q8_1),
        (10, "Q2_K", .q2K), (11, "Q3_K", .q3K), (12, "Q4_K", .q4K), (13, "Q5_K", .q5K), (14, "Q6_K", .q6K),
        (15, "Q8_K", .q8K), (16, "IQ2_XXS", .iq2XXS), (17, "IQ2_XS", .iq2XS), (18, "IQ3_XXS", .iq3XXS),
        (19, "IQ1_S", .iq1S), (20, "IQ4_NL", .iq4NL), (21, "IQ3_S", .iq3S), (22, "IQ2_S", .iq2S),
        (23, "IQ4_XS", .iq4XS), (24, "I8", .i8), (25, "I16", .i16), (26, "I32", .i32), (27, "I64", .i64),
        (28, "F64", .f64), (29, "IQ1_M", .iq1M), (30, "BF16", .bf16), (34, "TQ1_0", .tq1_0),
        (35, "TQ2_0", .tq2_0), (39, "MXFP4", .mxfp4), (40, "NVFP4", nil), (41, "Q1_0", nil), (42, "Q2_0", nil),
    ]

    /// Ids that once existed and now have no block size (Q4_2, Q4_3, the repacked Q4_0_x_y / IQ4_NL_x_y).
    static let removedIDs: [UInt32: String] = [
        4: "Q4_2", 5: "Q4_3", 31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8",
        36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8",
    ]

    public static func dtype(forID id: UInt32) -> DType? {
        table.first { $0.id == id }?.dtype
    }

    public static func id(for dtype: DType) -> UInt32? {
        table.first { $0.dtype == dtype }?.id
    }

    /// ggml's name of an id (`Q4_K`, `IQ2_XXS`), or `type N` when unknown.
    public static func name(forID id: UInt32) -> String {
        if let entry = table.first(where: { $0.id == id }) { return entry.name }
        if let removed = removedIDs[id] { return removed }
        return "type \(id)"
    }

    /// ggml's name for a dtype GGUF can hold (`Q8_0`, `BF16`); nil for dtypes GGUF has no id for.
    public static func name(of dtype: DType) -> String? {
        table.first { $0.dtype == dtype }?.name
    }

    /// "Q4_K (12)" for a dtype GGUF has an id for, the user name otherwise: how errors name a type.
    public static func label(_ dtype: DType) -> String {
        guard let id = id(for: dtype) else { return dtype.userName }
        return "\(name(forID: id)) (\(id))"
    }

    /// Whether GGUF has a type id for `dtype`.
    public static func canStore(_ dtype: DType) -> Bool { id(for: dtype) != nil }
}
