extension DType {
    /// ggml's type id (`enum ggml_type`, the number a GGUF tensor info stores) for the types ggml has;
    /// nil for the others.
    public var ggmlTypeID: Int? {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q5_0: return 6
        case .q5_1: return 7
        case .q8_0: return 8
        case .q8_1: return 9
        case .q2K: return 10
        case .q3K: return 11
        case .q4K: return 12
        case .q5K: return 13
        case .q6K: return 14
        case .q8K: return 15
        case .iq2XXS: return 16
        case .iq2XS: return 17
        case .iq3XXS: return 18
        case .iq1S: return 19
        case .iq4NL: return 20
        case .iq3S: return 21
        case .iq2S: return 22
        case .iq4XS: return 23
        case .i8: return 24
        case .i16: return 25
        case .i32: return 26
        case .i64: return 27
        case .f64: return 28
        case .iq1M: return 29
        case .bf16: return 30
        case .tq1_0: return 34
        case .tq2_0: return 35
        case .mxfp4: return 39
        default: return nil
        }
    }

    /// ggml's spelling of the type (`Q4_K`, `IQ2_XXS`, `BF16`), as llama.cpp and gguf-py print it; nil for
    /// types ggml lacks.
    public var ggmlName: String? {
        guard ggmlTypeID != nil else { return nil }
        return rawValue.uppercased()
    }

    /// "Q4_K (12)" for ggml types, the user name otherwise: how errors name a type.
    public var ggmlLabel: String {
        guard let name = ggmlName, let id = ggmlTypeID else { return userName }
        return "\(name) (\(id))"
    }
}
