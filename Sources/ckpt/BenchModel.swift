#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import CheckpointFormats
import Dispatch

/// The benchmark checkpoint of docs/DESIGN.md ("Benchmark checkpoint"), generated tensor by tensor so
/// that the model is never whole in memory.
struct BenchModel {
    var path: String
    /// Size of the safetensors file (header included): the bytes `cp` copies.
    var fileBytes: Int
    var tensorBytes: Int
    var tensors: Int
    var largestTensor: Int

    static let hidden = 2048, intermediate = 5632, keyValue = 256, vocabulary = 32000
    /// Fixed so that every run, on every machine, writes the same bytes.
    static let seed: UInt64 = 20_261_123

    /// HF Llama names and shapes ([out, in] for linear weights) for `layers` decoder layers.
    static func shapes(layers: Int) -> [(String, [Int])] {
        var list: [(String, [Int])] = [("model.embed_tokens.weight", [vocabulary, hidden])]
        for layer in 0..<layers {
            let p = "model.layers.\(layer)."
            list += [
                (p + "input_layernorm.weight", [hidden]),
                (p + "self_attn.q_proj.weight", [hidden, hidden]),
                (p + "self_attn.k_proj.weight", [keyValue, hidden]),
                (p + "self_attn.v_proj.weight", [keyValue, hidden]),
                (p + "self_attn.o_proj.weight", [hidden, hidden]),
                (p + "post_attention_layernorm.weight", [hidden]),
                (p + "mlp.gate_proj.weight", [intermediate, hidden]),
                (p + "mlp.up_proj.weight", [intermediate, hidden]),
                (p + "mlp.down_proj.weight", [hidden, intermediate]),
            ]
        }
        return list + [("model.norm.weight", [hidden]), ("lm_head.weight", [vocabulary, hidden])]
    }

    /// Tensor data bytes of the model with `layers` layers (to check free space before writing it).
    static func tensorBytes(layers: Int) -> Int {
        shapes(layers: layers).reduce(0) { $0 + $1.1.reduce(2, *) }
    }

    /// Writes the model to `path` with `SafeTensorsWriter` (atomically: a temporary file renamed into
    /// place). `progress` receives (bytes written, total bytes).
    static func generate(at path: String, layers: Int, progress: (Int, Int) -> Void) throws -> BenchModel {
        let infos = try shapes(layers: layers).map { try TensorInfo(name: $0.0, dtype: .bf16, shape: $0.1) }
        let writer = try SafeTensorsWriter(destination: path, metadata: [("format", "pt")], tensors: infos, overwrite: false)
        let total = infos.reduce(0) { $0 + $1.byteCount }
        var done = 0
        let chunk = BF16Chunk(elements: NormalBlocks.blockElements * 16)
        for index in writer.writeOrder {
            let info = infos[index]
            var start = 0
            while start < info.elementCount {
                let count = min(chunk.capacity, info.elementCount - start)
                chunk.fill(tensor: index, firstElement: start, count: count)
                try writer.write(UnsafeRawBufferPointer(rebasing: chunk.bytes[0..<(count * 2)]))
                start += count
                done += count * 2
                progress(done, total)
            }
        }
        try writer.finish()
        let file = try ReadOnlyFile(path: path)
        return BenchModel(path: path, fileBytes: file.size, tensorBytes: total, tensors: infos.count,
                          largestTensor: infos.map(\.byteCount).max() ?? 0)
    }
}

/// Normal(0, 0.02) values in fixed blocks, each block drawn from its own generator seeded by (tensor,
/// block): the bytes do not depend on how many threads fill them, and blocks fill in parallel.
enum NormalBlocks {
    static let blockElements = 1 << 16
    static let standardDeviation = 0.02

    static func generator(tensor: Int, block: Int) -> SplitMix64 {
        var mixer = SplitMix64(seed: BenchModel.seed ^ (UInt64(tensor) << 40) ^ UInt64(block))
        return SplitMix64(seed: mixer.next())
    }

    /// Writes elements `first..<first + count` of block `block` of tensor `tensor` as bf16.
    static func fill(_ out: UnsafeMutablePointer<UInt16>, tensor: Int, block: Int, count: Int) {
        var random = generator(tensor: tensor, block: block)
        var i = 0
        while i < count {
            let (a, b) = random.nextNormalPair()
            out[i] = HalfPrecision.f32BitsToBF16(Float(a * standardDeviation).bitPattern)
            if i + 1 < count { out[i + 1] = HalfPrecision.f32BitsToBF16(Float(b * standardDeviation).bitPattern) }
            i += 2
        }
    }
}

/// One reusable buffer of bf16 values, filled block by block on all cores.
final class BF16Chunk: @unchecked Sendable {
    let capacity: Int
    let bytes: UnsafeMutableRawBufferPointer

    init(elements: Int) {
        capacity = elements
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: elements * 2, alignment: 64)
    }

    deinit { bytes.deallocate() }

    /// Fills the first `count` elements with elements `firstElement...` of `tensor`. `firstElement` is
    /// a multiple of the block size, so chunk boundaries never split a block's sequence.
    func fill(tensor: Int, firstElement: Int, count: Int) {
        let blockSize = NormalBlocks.blockElements
        let blocks = (count + blockSize - 1) / blockSize
        // Blocks write disjoint ranges of the buffer, which outlives `concurrentPerform`.
        nonisolated(unsafe) let base = bytes.bindMemory(to: UInt16.self)
        DispatchQueue.concurrentPerform(iterations: blocks) { local in
            guard let start = base.baseAddress else { return }
            let offset = local * blockSize
            NormalBlocks.fill(start + offset, tensor: tensor, block: firstElement / blockSize + local,
                              count: min(blockSize, count - offset))
        }
    }
}

/// splitmix64 (Steele, Lea & Flood 2014): small, fast, statistically sound for test data, and the
/// same sequence on every machine.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    mutating func nextSigned() -> Double { Double(next() >> 11) * 0x1p-52 - 1 }

    /// Two independent standard normals (Marsaglia's polar form of Box–Muller: no trigonometry).
    mutating func nextNormalPair() -> (Double, Double) {
        while true {
            let u = nextSigned(), v = nextSigned()
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let scale = (-2 * log(s) / s).squareRoot()
                return (u * scale, v * scale)
            }
        }
    }
}
