import Testing
@testable import CheckpointCore

@Suite struct SupportTests {
    @Test func sha256KnownVectors() {
        let empty = [UInt8]()
        #expect(empty.withUnsafeBytes { SHA256.hex($0) } == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let abc = Array("abc".utf8)
        #expect(abc.withUnsafeBytes { SHA256.hex($0) } == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(long.withUnsafeBytes { SHA256.hex($0) } == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Streaming in odd pieces gives the same digest as one update.
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        var hasher = SHA256()
        var offset = 0
        var step = 1
        while offset < million.count {
            let end = min(million.count, offset + step)
            million[offset..<end].withUnsafeBytes { hasher.update($0) }
            offset = end
            step = step * 3 % 1000 + 1
        }
        let digest = hasher.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(digest == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func byteSizes() {
        #expect(ByteSize.parse("5GB") == 5_000_000_000)
        #expect(ByteSize.parse("5GiB") == 5 * 1024 * 1024 * 1024)
        #expect(ByteSize.parse("500MB") == 500_000_000)
        #expect(ByteSize.parse("1.5G") == 1_500_000_000)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("64kb") == 64_000)
        #expect(ByteSize.parse("-1GB") == nil)
        #expect(ByteSize.parse("GB") == nil)
        #expect(ByteSize.parse("1e30") == nil)
        #expect(ByteSize.describe(1_234_567) == "1.23 MB")
    }

    @Test func tensorInfoChecksOverflow() throws {
        let info = try TensorInfo(name: "w", dtype: .bf16, shape: [4096, 11008])
        #expect(info.elementCount == 45_088_768)
        #expect(info.byteCount == 90_177_536)
        #expect(throws: TensorShapeError.overflow(tensor: "x", shape: [1 << 40, 1 << 30], dtype: .f32)) {
            try TensorInfo(name: "x", dtype: .f32, shape: [1 << 40, 1 << 30])
        }
        #expect(throws: TensorShapeError.partialByte(tensor: "q", elements: 3, dtype: .f4)) {
            try TensorInfo(name: "q", dtype: .f4, shape: [3])
        }
        #expect(try TensorInfo(name: "s", dtype: .f32, shape: []).byteCount == 4)
        #expect(try TensorInfo(name: "e", dtype: .f32, shape: [2, 0]).byteCount == 0)
    }

    @Test func dtypeNames() {
        #expect(DType(userName: "bfloat16") == .bf16)
        #expect(DType(userName: "F8_E4M3") == .f8E4M3)
        #expect(DType(userName: "float8_e4m3fn") == .f8E4M3)
        #expect(DType(userName: "fp16") == .f16)
        #expect(DType(userName: "f128") == nil)
        for type in DType.allCases { #expect(DType(userName: type.userName) == type) }
    }

    @Test func terminalEscaping() {
        #expect(escapedForTerminal("a\u{1B}[31mb\n") == "a\\u{1b}[31mb\\n")
        #expect(escapedForTerminal("é ok") == "é ok")
    }
}
