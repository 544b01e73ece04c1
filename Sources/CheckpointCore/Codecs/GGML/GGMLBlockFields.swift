/// Little-endian field access inside ggml blocks. Blocks sit at any byte offset of a mapped file (GGUF
/// alignment can be 1), so every multi-byte field is loaded unaligned.
enum GGMLField {
    @inline(__always)
    static func byte(_ block: UnsafeRawPointer, _ offset: Int) -> UInt8 {
        block.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    static func half(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
        let bits = UInt16(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        return Float(bitPattern: HalfPrecision.f16ToF32Bits(bits))
    }

    @inline(__always)
    static func u16(_ block: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    static func u32(_ block: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    static func f32(_ block: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(bitPattern: u32(block, offset))
    }

    /// Stores `value` as an IEEE half, rounded to nearest even (numpy's `astype(float16)`, ggml's
    /// `GGML_FP32_TO_FP16`).
    @inline(__always)
    static func storeHalf(_ value: Float, _ block: UnsafeMutableRawPointer, _ offset: Int) {
        let bits = HalfPrecision.f32BitsToF16(value.bitPattern)
        block.storeBytes(of: bits.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inline(__always)
    static func storeByte(_ value: UInt8, _ block: UnsafeMutableRawPointer, _ offset: Int) {
        block.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    static func storeU32(_ value: UInt32, _ block: UnsafeMutableRawPointer, _ offset: Int) {
        block.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
}

/// The integer roundings of the reference quantizers, safe on any input (a NaN or an overflowed scale
/// gives 0 or the clamp instead of a trap).
enum GGMLRounding {
    /// Round half away from zero (C `roundf`/`lroundf`, gguf-py `np_roundf`), clamped to ±`limit`.
    /// Only float selects and bit arithmetic: the sign of quantized data is random (branches would
    /// mispredict) and a trapping Float→Int conversion would keep the loops from vectorizing.
    @inline(__always)
    static func halfAway(_ value: Float, limit: Int32) -> Int32 {
        let top = Float(limit)
        let magnitude = value.magnitude < top ? value.magnitude : top  // NaN → limit
        let whole = floorOfSmall(magnitude)
        let rounded = whole + (magnitude - whole >= 0.5 ? 1 : 0)
        let sign = Int32(bitPattern: value.bitPattern) >> 31  // 0 or −1
        return (smallInteger(rounded) ^ sign) &- sign
    }

    /// `MIN(top, (int)(value))` of the legacy quantizers for a value that is ≥ 0 in exact arithmetic:
    /// truncation, clamped to 0...top (NaN → 0).
    @inline(__always)
    static func truncated(_ value: Float, top: Int32) -> UInt8 {
        let upper = Float(top)
        let clamped = value >= upper ? upper : (value > 0 ? value : 0)
        return UInt8(truncatingIfNeeded: smallInteger(floorOfSmall(clamped)))
    }

    /// ⌊x⌋ for 0 ≤ x < 2^22: adding and removing 2^23 rounds to the nearest integer, then step down if
    /// that went up.
    @inline(__always)
    private static func floorOfSmall(_ x: Float) -> Float {
        let nearest = (x + 8_388_608) - 8_388_608
        return nearest > x ? nearest - 1 : nearest
    }

    /// The integer value of an integral float in [−2^22, 2^22], read from the mantissa after adding 1.5·2^23.
    @inline(__always)
    private static func smallInteger(_ x: Float) -> Int32 {
        Int32(bitPattern: (x + 12_582_912).bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }

    /// ggml's `nearest_int`: adds 1.5·2^23 so the FPU rounds to nearest even, then reads the low mantissa
    /// bits. Exact for |value| ≤ 2^22; beyond that it returns what ggml's release builds return (the
    /// same bit arithmetic, which never traps).
    @inline(__always)
    static func nearest(_ value: Float) -> Int32 {
        let shifted = value + 12_582_912
        return Int32(bitPattern: shifted.bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }
}

/// Block iteration shared by the kernels: the closures are inlined, so each kernel still compiles to
/// one tight loop.
enum GGMLBlocks {
    /// Calls `body(block, output)` for `blocks` consecutive blocks of `bytes` bytes / `elements` floats.
    @inline(__always)
    static func decode(
        _ source: UnsafeRawPointer, _ destination: UnsafeMutablePointer<Float>, _ blocks: Int, bytes: Int, elements: Int,
        _ body: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void
    ) {
        for index in 0..<blocks { body(source + index * bytes, destination + index * elements) }
    }

    /// Calls `body(input, block)` for `blocks` consecutive blocks of `elements` floats / `bytes` bytes.
    @inline(__always)
    static func encode(
        _ source: UnsafePointer<Float>, _ destination: UnsafeMutableRawPointer, _ blocks: Int, elements: Int, bytes: Int,
        _ body: (UnsafePointer<Float>, UnsafeMutableRawPointer) -> Void
    ) {
        for index in 0..<blocks { body(source + index * elements, destination + index * bytes) }
    }

    /// max |x[i]| over `count` (a multiple of 8) finite floats, eight lanes at a time. For non-negative
    /// finite floats the bit patterns order like the values, and max is exact in any order.
    @inline(__always)
    static func maxMagnitude(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let raw = UnsafeRawPointer(x)
        var lanes = SIMD8<UInt32>(repeating: 0)
        for offset in stride(from: 0, to: count * 4, by: 32) {
            let bits = raw.loadUnaligned(fromByteOffset: offset, as: SIMD8<UInt32>.self)
            lanes = pointwiseMax(lanes, bits & 0x7FFF_FFFF)
        }
        return Float(bitPattern: lanes.max())
    }

    /// Calls `body(j, low, high)` for the 16 bytes at `offset`: element j takes the low nibble, j + 16 the high.
    @inline(__always)
    static func nibbles(_ block: UnsafeRawPointer, at offset: Int, _ body: (Int, UInt8, UInt8) -> Void) {
        let bytes = (block + offset).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 { body(j, bytes[j] & 0xF, bytes[j] >> 4) }
    }

    /// For each byte value, a UInt64 whose byte k is bit k of the value (0 or 1): the fifth bits of
    /// Q5_0 / Q5_1 become 32 bytes with no per-element variable shift.
    static let bitSpread: [UInt64] = (0..<256).map { (value: Int) -> UInt64 in
        var spread: UInt64 = 0
        for bit in 0..<8 where (value >> bit) & 1 == 1 { spread |= UInt64(1) << UInt64(8 * bit) }
        return spread
    }

    /// The 32 five-bit codes of Q5_0 / Q5_1: nibbles at `quantsAt`, fifth bits in the u32 at `highAt`.
    @inline(__always)
    static func fiveBitCodes(
        _ block: UnsafeRawPointer, highAt: Int, quantsAt: Int, spread: UnsafePointer<UInt64>,
        _ body: (Int, UInt8, UInt8) -> Void
    ) {
        @inline(__always) func bits(_ index: Int) -> UInt64 { spread[Int(GGMLField.byte(block, highAt + index))].littleEndian }
        var highBits = (bits(0), bits(1), bits(2), bits(3))
        withUnsafeBytes(of: &highBits) { raw in
            let high = raw.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
            nibbles(block, at: quantsAt) { j, low, upper in body(j, low | high[j] << 4, upper | high[j + 16] << 4) }
        }
    }
}
