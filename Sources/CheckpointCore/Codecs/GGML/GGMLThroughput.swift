#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Throughput of the ggml codecs, for benchmarks (`ggml-bench`, and later `ckpt bench`).
public enum GGMLThroughput {
    public struct Measurement: Sendable {
        public let type: DType
        public let elements: Int
        /// Float32 bytes (4 per element) produced per second by dequantization, in GB/s (10^9).
        public let dequantizeGBps: Double
        /// Float32 bytes consumed per second by quantization, in GB/s; nil when ckpt cannot quantize `type`.
        public let quantizeGBps: Double?
    }

    /// Best of `repeats` timed runs over `elements` deterministic pseudo-random floats (rows of 4096),
    /// on one thread (`parallel: false`, timed in the thread's CPU time so that other processes on a
    /// shared machine do not count) or with the codec's parallel chunks (wall-clock time).
    public static func measure(_ type: DType, elements requested: Int = 1 << 22, repeats: Int = 5, parallel: Bool = false) -> Measurement? {
        guard let layout = type.blockLayout, GGMLCodec.canDequantize(type) else { return nil }
        let rowLength = 4096
        let elements = Swift.max(rowLength, requested / rowLength * rowLength)
        var state: UInt32 = 0x1234_5678
        let values = (0..<elements).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int32(bitPattern: state) >> 8) / Float(1 << 23)
        }
        var blocks = [UInt8](repeating: 0, count: elements / layout.elements * layout.bytes)
        var floats = [Float](repeating: 0, count: elements)
        let canQuantize = GGMLCodec.canQuantize(type)
        if !canQuantize {
            // Dequantize-only types: random bytes with small finite f16/f32 fields are valid blocks.
            for index in blocks.indices {
                state = state &* 1_664_525 &+ 1_013_904_223
                blocks[index] = UInt8(truncatingIfNeeded: state >> 24) & 0x3B
            }
        }
        var quantizeBest = Double.infinity, dequantizeBest = Double.infinity
        for _ in 0..<Swift.max(1, repeats) {
            if canQuantize {
                let elapsed = seconds(threadTime: !parallel) {
                    values.withUnsafeBufferPointer { source in
                        blocks.withUnsafeMutableBytes { destination in
                            try? GGMLCodec.quantize(type, from: source, into: destination, rowLength: rowLength, parallel: parallel)
                        }
                    }
                }
                quantizeBest = Swift.min(quantizeBest, elapsed)
            }
            let elapsed = seconds(threadTime: !parallel) {
                blocks.withUnsafeBytes { source in
                    floats.withUnsafeMutableBufferPointer { destination in
                        try? GGMLCodec.dequantize(type, from: source, into: destination, parallel: parallel)
                    }
                }
            }
            dequantizeBest = Swift.min(dequantizeBest, elapsed)
        }
        let bytes = Double(elements * 4)
        func rate(_ seconds: Double) -> Double { seconds > 0 ? bytes / seconds / 1e9 : 0 }
        return Measurement(type: type, elements: elements, dequantizeGBps: rate(dequantizeBest),
                           quantizeGBps: canQuantize ? rate(quantizeBest) : nil)
    }

    private static func seconds(threadTime: Bool, _ body: () -> Void) -> Double {
        var start = timespec(), end = timespec()
        let clock = threadTime ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC
        clock_gettime(clock, &start)
        body()
        clock_gettime(clock, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
    }
}
