/// Loops for the float pairs that real checkpoints convert between (f32, f16, bf16), built on the
/// branch-free scalar kernels of `HalfPrecision` so that they vectorize.
enum FastFloatKernels {
    /// Returns false when the pair has no fast kernel.
    static func convert(
        _ src: UnsafeRawPointer, from: DType, into dst: UnsafeMutableRawPointer, to: DType, count: Int
    ) -> Bool {
        switch (from, to) {
        case (.bf16, .f32): map(src, dst, count) { (h: UInt16) -> UInt32 in HalfPrecision.bf16ToF32Bits(h) }
        case (.f16, .f32): map(src, dst, count) { (h: UInt16) -> UInt32 in HalfPrecision.f16ToF32Bits(h) }
        case (.f32, .bf16): map(src, dst, count) { (f: UInt32) -> UInt16 in HalfPrecision.f32BitsToBF16(f) }
        case (.f32, .f16): map(src, dst, count) { (f: UInt32) -> UInt16 in HalfPrecision.f32BitsToF16(f) }
        case (.bf16, .f16):
            // Every bfloat16 is exactly a Float32, so this is one rounding.
            map(src, dst, count) { (h: UInt16) -> UInt16 in
                HalfPrecision.f32BitsToF16(HalfPrecision.bf16ToF32Bits(h))
            }
        case (.f16, .bf16):
            map(src, dst, count) { (h: UInt16) -> UInt16 in
                HalfPrecision.f32BitsToBF16(HalfPrecision.f16ToF32Bits(h))
            }
        case (.f32, .f64):
            map(src, dst, count) { (f: UInt32) -> UInt64 in Double(Float(bitPattern: f)).bitPattern }
        case (.f64, .f32):
            map(src, dst, count) { (d: UInt64) -> UInt32 in Float(Double(bitPattern: d)).bitPattern }
        default:
            return false
        }
        return true
    }

    /// Applies `kernel` element-wise. Aligned buffers use typed pointers (vectorizable); unaligned ones
    /// (safetensors data after an unpadded header) go through unaligned loads and stores.
    @inline(__always)
    private static func map<In: FixedWidthInteger, Out: FixedWidthInteger>(
        _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ count: Int, _ kernel: (In) -> Out
    ) {
        let aligned = Int(bitPattern: src) % MemoryLayout<In>.alignment == 0
            && Int(bitPattern: dst) % MemoryLayout<Out>.alignment == 0
        if aligned {
            let input = src.assumingMemoryBound(to: In.self)
            let output = dst.assumingMemoryBound(to: Out.self)
            for i in 0..<count { output[i] = kernel(input[i]) }
        } else {
            for i in 0..<count {
                let value = src.loadUnaligned(fromByteOffset: i * MemoryLayout<In>.size, as: In.self)
                dst.storeBytes(of: kernel(value), toByteOffset: i * MemoryLayout<Out>.size, as: Out.self)
            }
        }
    }
}
