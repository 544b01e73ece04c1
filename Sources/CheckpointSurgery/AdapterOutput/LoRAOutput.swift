import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// An adapter to be written: per module the new factors and alpha, plus tensors copied unchanged
/// from the source (modules_to_save). Writers turn it into a PEFT folder, a kohya file or MELoRA.
public struct LoRAOutput: Sendable {
    public struct Module: Sendable {
        /// The module path as the adapter names it (PEFT path, or kohya's flattened name).
        public var module: String
        public var kind: ModuleDelta.Kind
        public var kernel: [Int]
        /// "up", out × k.
        public var b: Matrix
        /// "down", k × in (in·kh·kw for convolutions).
        public var a: Matrix
        /// ΔW = (alpha / k) · B·A (alpha / √k with rsLoRA).
        public var alpha: Double
        /// `lora_B.bias`, kept as it was.
        public var bias: [Double]?

        public var rank: Int { a.rows }

        public init(module: String, kind: ModuleDelta.Kind, kernel: [Int], b: Matrix, a: Matrix, alpha: Double, bias: [Double]? = nil) {
            self.module = module
            self.kind = kind
            self.kernel = kernel
            self.b = b
            self.a = a
            self.alpha = alpha
            self.bias = bias
        }
    }

    /// A source tensor copied byte for byte under its own name.
    public struct PassThrough: Sendable {
        public var reader: any CheckpointReader
        public var index: Int
        public var name: String { reader.tensors[index].name }
    }

    public var modules: [Module]
    public var passThrough: [PassThrough]
    public var useRSLoRA: Bool
    /// The dtype factors are stored in.
    public var dtype: DType
    /// Tensors written whole from values (extracted modules_to_save): name, shape, values.
    public var wholeTensors: [(name: String, shape: [Int], values: [Float])] = []
    /// How `modules` are named (writing another layout renames them).
    public var naming: ModuleNaming = .huggingFace

    public init(modules: [Module], passThrough: [PassThrough] = [], useRSLoRA: Bool = false, dtype: DType) {
        self.modules = modules
        self.passThrough = passThrough
        self.useRSLoRA = useRSLoRA
        self.dtype = dtype
    }

    /// The alpha that gives `scale` at rank `rank` (α = s·r, or s·√r with rsLoRA).
    public static func alpha(scale: Double, rank: Int, rsLoRA: Bool) -> Double {
        rsLoRA ? scale * Double(rank).squareRoot() : scale * Double(rank)
    }

    /// The scale α/r (α/√r with rsLoRA) of `module`.
    public func scale(_ module: Module) -> Double {
        useRSLoRA ? module.alpha / Double(module.rank).squareRoot() : module.alpha / Double(module.rank)
    }

    /// Bytes the factors take in `dtype`.
    public var factorBytes: Int {
        modules.reduce(0) { $0 + ($1.b.elements.count + $1.a.elements.count) * dtype.bytesPerElementForOutput }
    }
}

extension DType {
    /// Bytes per element of a float dtype adapters are written in (2 for f16/bf16, 4 for f32, …).
    var bytesPerElementForOutput: Int {
        switch self {
        case .f64: return 8
        case .f32: return 4
        case .f16, .bf16: return 2
        default: return 1
        }
    }
}

/// Tensors held in memory (adapters are small) and written as one safetensors file.
struct TensorFile {
    var tensors: [TensorInfo] = []
    var bytes: [[UInt8]] = []
    let dtype: DType

    init(dtype: DType) { self.dtype = dtype }

    mutating func add(_ name: String, shape: [Int], values: [Float], dtype: DType? = nil) throws {
        let info = try TensorInfo(name: name, dtype: dtype ?? self.dtype, shape: shape)
        var out = [UInt8](repeating: 0, count: info.byteCount)
        try values.withUnsafeBytes { source in
            try out.withUnsafeMutableBytes { target in
                try ElementConverter.convert(source, from: .f32, into: target, to: info.dtype, count: values.count)
            }
        }
        tensors.append(info)
        bytes.append(out)
    }

    mutating func copy(_ source: LoRAOutput.PassThrough) throws {
        let info = source.reader.tensors[source.index]
        let data = try source.reader.data(at: source.index)
        tensors.append(info)
        bytes.append(Array(data.bytes))
    }

    func write(to path: String, metadata: [(key: String, value: String)]?, overwrite: Bool) throws {
        try write(into: try SafeTensorsWriter(destination: path, metadata: metadata, tensors: tensors, overwrite: overwrite))
    }

    /// A GGUF file; derived keys (general.file_type, alignment) are added as `ckpt convert` adds them.
    func writeGGUF(to path: String, metadata: GGUFMetadata, overwrite: Bool) throws {
        let target = try OutputTarget.resolve(path: path, format: "gguf", shardSize: nil)
        try write(into: try target.makeWriter(carrying: CheckpointMetadata(gguf: metadata), tensors: tensors, overwrite: overwrite).writer)
    }

    private func write(into writer: any CheckpointWriter) throws {
        do {
            for index in writer.writeOrder { try bytes[index].withUnsafeBytes { try writer.write($0) } }
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }
}
