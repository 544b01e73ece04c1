#if canImport(Glibc)
import Glibc
#endif
import CheckpointCore
import CheckpointFormats

/// The benchmark checkpoint of docs/DESIGN.md, generated tensor by tensor (never whole in memory).
struct BenchModel {
    var path: String
    var bytes: Int
    var tensors: Int
    var largestTensor: Int

    /// HF Llama names and shapes for `layers` decoder layers.
    static func shapes(layers: Int) -> [(String, [Int])] {
        let hidden = 2048, intermediate = 5632, kv = 256, vocab = 32000
        var list: [(String, [Int])] = [("model.embed_tokens.weight", [vocab, hidden])]
        for layer in 0..<layers {
            let p = "model.layers.\(layer)."
            list += [
                (p + "input_layernorm.weight", [hidden]), (p + "self_attn.q_proj.weight", [hidden, hidden]),
                (p + "self_attn.k_proj.weight", [kv, hidden]), (p + "self_attn.v_proj.weight", [kv, hidden]),
                (p + "self_attn.o_proj.weight", [hidden, hidden]), (p + "post_attention_layernorm.weight", [hidden]),
                (p + "mlp.gate_proj.weight", [intermediate, hidden]), (p + "mlp.up_proj.weight", [intermediate, hidden]),
                (p + "mlp.down_proj.weight", [hidden, intermediate]),
            ]
        }
        return list + [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
    }

    static func generate(at path: String, layers: Int, progress: (Int, Int) -> Void) throws -> BenchModel {
        let infos = try shapes(layers: layers).map { try TensorInfo(name: $0.0, dtype: .bf16, shape: $0.1) }
        let writer = try SafeTensorsWriter(destination: path, metadata: [("format", "pt")], tensors: infos, overwrite: true)
        // A pool of seeded normal(0, 0.02) bf16 values; each tensor reads it from its own seeded offset.
        var generator = SplitMix64(seed: 20_261_123)
        let pool = (0..<(1 << 22)).map { _ in HalfPrecision.f32BitsToBF16(Float(generator.nextNormal() * 0.02).bitPattern) }
        let total = infos.reduce(0) { $0 + $1.byteCount }
        var done = 0
        var chunk = [UInt16](repeating: 0, count: 1 << 20)
        for index in writer.writeOrder {
            let info = infos[index]
            var remaining = info.elementCount
            var offset = Int(generator.next() % UInt64(pool.count))
            while remaining > 0 {
                let n = min(remaining, chunk.count)
                for i in 0..<n { chunk[i] = pool[(offset + i) % pool.count] }
                offset = (offset + n) % pool.count
                try chunk.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[0..<(n * 2)])) }
                remaining -= n
                done += n * 2
                progress(done, total)
            }
        }
        try writer.finish()
        return BenchModel(path: path, bytes: total, tensors: infos.count, largestTensor: infos.map(\.byteCount).max() ?? 0)
    }
}

/// splitmix64 with Box–Muller normals: small, fast, and the same sequence on every machine.
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

    mutating func nextUniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

    mutating func nextNormal() -> Double {
        (-2 * log(nextUniform())).squareRoot() * cos(2 * Double.pi * nextUniform())
    }
}
