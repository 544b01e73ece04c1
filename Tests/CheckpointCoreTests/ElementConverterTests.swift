import Testing
@testable import CheckpointCore

@Suite struct ElementConverterTests {
    func convert<In, Out: FixedWidthInteger>(_ input: [In], _ from: DType, _ to: DType, as: Out.Type) throws -> [Out] {
        var output = [Out](repeating: 0, count: input.count)
        try input.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { target in
                try ElementConverter.convert(source, from: from, into: target, to: to, count: input.count)
            }
        }
        return output
    }

    @Test func bf16ToF16RoundsOnce() throws {
        // 1 + 2^-7 + 2^-11 is not representable in f16 (10 mantissa bits): tie → even (down).
        let bf16: [UInt16] = [0x3F80, 0x3F81, 0x7F80, 0xFF80, 0x7FC1, 0x4780, 0x477F, 0x0001]
        let f16: [UInt16] = try convert(bf16, .bf16, .f16, as: UInt16.self)
        #expect(f16[0] == 0x3C00)
        #expect(f16[1] == 0x3C08)
        #expect(f16[2] == 0x7C00)
        #expect(f16[3] == 0xFC00)
        #expect(FloatFormat.f16.isNaN(UInt32(f16[4])))
        #expect(f16[5] == 0x7C00)  // 65536 overflows
        #expect(f16[6] == 0x7BF8)  // 65280
        #expect(f16[7] == 0x0000)  // bf16 subnormal underflows to +0
    }

    @Test func f64ToF16AvoidsDoubleRounding() throws {
        // 1 + 2^-11 + 2^-40: just above an f16 tie. Through f32 it would become the tie and round to even (1.0);
        // rounded once from f64 it must round up.
        let value = 1.0 + 0x1p-11 + 0x1p-40
        let out: [UInt16] = try convert([value], .f64, .f16, as: UInt16.self)
        #expect(out == [0x3C01])
    }

    @Test func unalignedBuffersConvert() throws {
        var bytes: [UInt8] = [0xAA]  // shift the data by one byte
        for value: Float in [1, -2, 0.5] { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
        var output = [UInt8](repeating: 0, count: 7)
        try bytes.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { target in
                try ElementConverter.convert(UnsafeRawBufferPointer(rebasing: source[1...]), from: .f32,
                                             into: UnsafeMutableRawBufferPointer(rebasing: target[1...]), to: .bf16, count: 3)
            }
        }
        #expect(output == [0, 0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3F])
    }

    @Test func integerCastsCheckRange() throws {
        let ok: [Int32] = try convert([Int64(-5), 7, 2_147_483_647], .i64, .i32, as: Int32.self)
        #expect(ok == [-5, 7, 2_147_483_647])
        #expect(throws: ConversionError.integerOutOfRange(from: .i64, to: .i32, element: 1, value: "2147483648")) {
            let _: [Int32] = try convert([Int64(0), 2_147_483_648], .i64, .i32, as: Int32.self)
        }
        #expect(throws: ConversionError.integerOutOfRange(from: .i8, to: .u8, element: 0, value: "-1")) {
            let _: [UInt8] = try convert([Int8(-1)], .i8, .u8, as: UInt8.self)
        }
        let wide: [Int64] = try convert([UInt64(1) << 62], .u64, .i64, as: Int64.self)
        #expect(wide == [1 << 62])
    }

    @Test func refusesMeaninglessCasts() {
        #expect(throws: ConversionError.self) {
            let _: [UInt16] = try convert([Int32(1)], .i32, .f16, as: UInt16.self)
        }
        #expect(throws: ConversionError.self) {
            let _: [UInt8] = try convert([UInt8(0x12)], .f4, .f8E4M3, as: UInt8.self)
        }
        #expect(!ElementConverter.canConvert(.bool, to: .f32))
    }
}
