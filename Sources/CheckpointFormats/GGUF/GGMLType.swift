import CheckpointCore

/// The ggml tensor type ids (ggml `enum ggml_type`) and their mapping to `DType`: the one table every
/// GGUF reader and writer consults.
public enum GGMLType {
    /// ggml's `GGML_TYPE_COUNT` as of the newest ids we know by name; larger ids are invalid.
    public static let idCount: UInt32 = 43

    /// Ids a file may hold that ckpt cannot represent (ggml types newer than our codecs). The ids and
    /// names of the types ckpt can represent live with `DType` (`ggmlTypeID`, `ggmlName`), one table.
    static let unrepresentable: [UInt32: String] = [40: "NVFP4", 41: "Q1_0", 42: "Q2_0"]

    /// Each id's dtype, built once from `DType.ggmlTypeID`.
    private static let dtypes: [UInt32: DType] = Dictionary(uniqueKeysWithValues: DType.allCases.compactMap { dtype in
        dtype.ggmlTypeID.map { (UInt32($0), dtype) }
    })

    /// Ids that once existed and now have no block size (Q4_2, Q4_3, the repacked Q4_0_x_y / IQ4_NL_x_y).
    static let removedIDs: [UInt32: String] = [
        4: "Q4_2", 5: "Q4_3", 31: "Q4_0_4_4", 32: "Q4_0_4_8", 33: "Q4_0_8_8",
        36: "IQ4_NL_4_4", 37: "IQ4_NL_4_8", 38: "IQ4_NL_8_8",
    ]

    public static func dtype(forID id: UInt32) -> DType? {
        dtypes[id]
    }

    public static func id(for dtype: DType) -> UInt32? {
        dtype.ggmlTypeID.map(UInt32.init)
    }

    /// ggml's name of an id (`Q4_K`, `IQ2_XXS`), or `type N` when unknown.
    public static func name(forID id: UInt32) -> String {
        if let name = dtypes[id]?.ggmlName ?? unrepresentable[id] ?? removedIDs[id] { return name }
        return "type \(id)"
    }

    /// ggml's name for a dtype GGUF can hold (`Q8_0`, `BF16`); nil for dtypes GGUF has no id for.
    public static func name(of dtype: DType) -> String? {
        dtype.ggmlName
    }

    /// "Q4_K (12)" for a dtype GGUF has an id for, the user name otherwise: how errors name a type.
    public static func label(_ dtype: DType) -> String {
        dtype.ggmlLabel
    }

    /// Whether GGUF has a type id for `dtype`.
    public static func canStore(_ dtype: DType) -> Bool { id(for: dtype) != nil }
}
