import Testing
import CheckpointCore
@testable import CheckpointFormats

/// ggml's `enum ggml_type` (ggml.h; gguf-py's GGMLQuantizationType) as facts: every id a GGUF file may
/// name, its spelling, and the dtype ckpt maps it to. The reader, the writer and the codecs' error
/// messages all answer from `DType.ggmlTypeID`; this pins that one table to ggml's.
@Suite struct GGMLTypeTableTests {
    static let ggml: [(id: UInt32, name: String, dtype: DType?)] = [
        (0, "F32", .f32), (1, "F16", .f16), (2, "Q4_0", .q4_0), (3, "Q4_1", .q4_1), (4, "Q4_2", nil), (5, "Q4_3", nil),
        (6, "Q5_0", .q5_0), (7, "Q5_1", .q5_1), (8, "Q8_0", .q8_0), (9, "Q8_1", .q8_1),
        (10, "Q2_K", .q2K), (11, "Q3_K", .q3K), (12, "Q4_K", .q4K), (13, "Q5_K", .q5K), (14, "Q6_K", .q6K),
        (15, "Q8_K", .q8K), (16, "IQ2_XXS", .iq2XXS), (17, "IQ2_XS", .iq2XS), (18, "IQ3_XXS", .iq3XXS),
        (19, "IQ1_S", .iq1S), (20, "IQ4_NL", .iq4NL), (21, "IQ3_S", .iq3S), (22, "IQ2_S", .iq2S),
        (23, "IQ4_XS", .iq4XS), (24, "I8", .i8), (25, "I16", .i16), (26, "I32", .i32), (27, "I64", .i64),
        (28, "F64", .f64), (29, "IQ1_M", .iq1M), (30, "BF16", .bf16), (31, "Q4_0_4_4", nil), (32, "Q4_0_4_8", nil),
        (33, "Q4_0_8_8", nil), (34, "TQ1_0", .tq1_0), (35, "TQ2_0", .tq2_0), (36, "IQ4_NL_4_4", nil),
        (37, "IQ4_NL_4_8", nil), (38, "IQ4_NL_8_8", nil), (39, "MXFP4", .mxfp4), (40, "NVFP4", nil), (41, "Q1_0", nil),
        (42, "Q2_0", nil),
    ]

    @Test func everyIDHasGGMLsNameAndDType() {
        #expect(GGMLType.idCount == UInt32(Self.ggml.count))
        for entry in Self.ggml {
            #expect(GGMLType.name(forID: entry.id) == entry.name, "id \(entry.id)")
            #expect(GGMLType.dtype(forID: entry.id) == entry.dtype, "id \(entry.id)")
            if let dtype = entry.dtype {
                #expect(GGMLType.id(for: dtype) == entry.id)
                #expect(GGMLType.label(dtype) == "\(entry.name) (\(entry.id))")
            }
        }
        #expect(GGMLType.name(forID: 43) == "type 43")
    }

    /// Dtypes outside ggml's enum have no id and are labelled by their own names.
    @Test func otherDTypesHaveNoID() {
        let mapped = Set(Self.ggml.compactMap(\.dtype))
        for dtype in DType.allCases where !mapped.contains(dtype) {
            #expect(GGMLType.id(for: dtype) == nil && !GGMLType.canStore(dtype), "\(dtype)")
            #expect(GGMLType.label(dtype) == dtype.userName)
        }
    }
}
