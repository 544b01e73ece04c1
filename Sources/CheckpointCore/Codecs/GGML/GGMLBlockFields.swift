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
    @inline(__always)
    static func halfAway(_ value: Float, limit: Int32) -> Int32 {
        let magnitude = value.magnitude
        guard magnitude < Float(limit) else { return value > 0 ? limit : (value < 0 ? -limit : 0) }
        let whole = Int32(magnitude)
        let rounded = whole + (magnitude - Float(whole) >= 0.5 ? 1 : 0)
        return value < 0 ? -rounded : rounded
    }

    /// `MIN(top, (int)(value))` of the legacy quantizers for a value that is ≥ 0 in exact arithmetic:
    /// truncation, clamped to 0...top.
    @inline(__always)
    static func truncated(_ value: Float, top: Int32) -> UInt8 {
        if value >= Float(top) { return UInt8(truncatingIfNeeded: top) }
        return value > 0 ? UInt8(truncatingIfNeeded: Int32(value)) : 0
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

    /// Calls `body(j, low, high)` for the 16 bytes at `offset`: element j takes the low nibble, j + 16 the high.
    @inline(__always)
    static func nibbles(_ block: UnsafeRawPointer, at offset: Int, _ body: (Int, UInt8, UInt8) -> Void) {
        for j in 0..<16 {
            let byte = GGMLField.byte(block, offset + j)
            body(j, byte & 0xF, byte >> 4)
        }
    }

    /// The 32 five-bit codes of Q5_0 / Q5_1: nibbles at `quantsAt`, fifth bits in the u32 at `highAt`.
    @inline(__always)
    static func fiveBitCodes(_ block: UnsafeRawPointer, highAt: Int, quantsAt: Int, _ body: (Int, UInt8, UInt8) -> Void) {
        let high = GGMLField.u32(block, highAt)
        nibbles(block, at: quantsAt) { j, low, upper in
            let lowBit = UInt8(truncatingIfNeeded: high >> UInt32(j)) & 1
            let upperBit = UInt8(truncatingIfNeeded: high >> UInt32(j + 16)) & 1
            body(j, low | lowBit << 4, upper | upperBit << 4)
        }
    }
}
