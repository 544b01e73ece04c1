import Testing
import Foundation
@testable import CheckpointCore

/// Bit-exact agreement with numpy / ml_dtypes over the tables in fixtures/codecs (made by
/// fixtures/make_fixtures.py): every bit pattern decoded, and encodes covering every tie, the
/// overflow and underflow edges, NaNs, and float64 double-rounding traps.
@Suite struct ReferenceTableTests {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("fixtures/codecs").path
    }()

    static let types: [(String, DType)] = [
        ("F16", .f16), ("BF16", .bf16), ("F8_E4M3", .f8E4M3), ("F8_E5M2", .f8E5M2), ("F8_E4M3FNUZ", .f8E4M3FNUZ),
        ("F8_E5M2FNUZ", .f8E5M2FNUZ), ("F8_E8M0", .f8E8M0), ("F4", .f4), ("F6_E2M3", .f6E2M3), ("F6_E3M2", .f6E3M2),
    ]

    static func load(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
    }

    @Test(arguments: types)
    func decodesEveryPattern(_ name: String, _ type: DType) throws {
        let table = try Self.load("decode_\(name).bin")
        let format = try #require(type.floatFormat)
        #expect(table.count == (1 << format.totalBits) * 4)
        var mismatches: [String] = []
        for pattern in 0..<(1 << format.totalBits) {
            let expected = table.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: pattern * 4, as: UInt32.self) }
            let got = format.decodeToFloat32Bits(UInt32(pattern))
            if got != expected { mismatches.append("\(pattern): got \(String(got, radix: 16)) want \(String(expected, radix: 16))") }
        }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.count) mismatches, first \(mismatches.prefix(5))")
    }

    @Test(arguments: types)
    func encodesFromFloat32(_ name: String, _ type: DType) throws {
        try checkEncode(name, type, sourceBytes: 4)
    }

    @Test(arguments: types)
    func encodesFromFloat64(_ name: String, _ type: DType) throws {
        try checkEncode(name, type, sourceBytes: 8)
    }

    func checkEncode(_ name: String, _ type: DType, sourceBytes: Int) throws {
        let table = try Self.load("encode_\(name)_\(sourceBytes == 4 ? "f32" : "f64").bin")
        let format = try #require(type.floatFormat)
        let outBytes = format.totalBits > 8 ? 2 : 1
        let record = sourceBytes + outBytes
        #expect(table.count % record == 0 && table.count > 0)
        var inputs: [UInt64] = []
        var rawInputs: [UInt8] = []
        var expected: [UInt32] = []
        table.withUnsafeBytes { bytes in
            for offset in stride(from: 0, to: bytes.count, by: record) {
                inputs.append(sourceBytes == 4
                    ? UInt64(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                    : bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                rawInputs += bytes[offset..<(offset + sourceBytes)]
                expected.append(outBytes == 2 ? UInt32(bytes.loadUnaligned(fromByteOffset: offset + sourceBytes, as: UInt16.self))
                                              : UInt32(bytes[offset + sourceBytes]))
            }
        }
        var mismatches: [String] = []
        func encode(_ input: UInt64) -> UInt32 {
            sourceBytes == 4 ? format.encode(float32Bits: UInt32(input)) : format.encode(float64: Double(bitPattern: input))
        }
        for (index, input) in inputs.enumerated() where encode(input) != expected[index] {
            mismatches.append("\(String(input, radix: 16)): got \(String(encode(input), radix: 16)) want \(String(expected[index], radix: 16))")
        }
        #expect(mismatches.isEmpty, "\(name): \(mismatches.count) of \(inputs.count) mismatch, first \(mismatches.prefix(5))")
        // The production path (ElementConverter, with its fast kernels) must agree too.
        guard !type.isPacked else { return }
        var output = [UInt8](repeating: 0, count: inputs.count * outBytes)
        try rawInputs.withUnsafeBytes { source in
            try output.withUnsafeMutableBytes { target in
                try ElementConverter.convert(source, from: sourceBytes == 4 ? .f32 : .f64, into: target, to: type, count: inputs.count)
            }
        }
        var converterMismatches = 0
        output.withUnsafeBytes { bytes in
            for index in inputs.indices {
                let got = outBytes == 2 ? UInt32(bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)) : UInt32(bytes[index])
                if got != expected[index] { converterMismatches += 1 }
            }
        }
        #expect(converterMismatches == 0, "\(name): ElementConverter disagrees on \(converterMismatches) inputs")
    }
}
