import CheckpointCore
import CheckpointFormats
import CheckpointLinalg

/// The adapter layouts ckpt reads.
public enum AdapterFormat: String, Sendable, CaseIterable {
    /// A PEFT folder: adapter_config.json + adapter_model.safetensors (or .bin).
    case peft
    /// A single file with kohya-ss names (`lora_down` / `lora_up` / `alpha`).
    case kohya
    /// A MELoRA state dict: MyTransformers naming (`weight_a.i` / `weight_b.i`) or the official
    /// PEFT-style folder (`lora_A.i.weight`, lists of r and lora_alpha).
    case melora
    /// A llama.cpp LoRA adapter in GGUF (`general.type = adapter`, `.lora_a` / `.lora_b` pairs).
    case gguf
}

/// A tensor of the adapter that replaces a base tensor as a whole (PEFT `modules_to_save`).
public struct Replacement: Sendable {
    public var module: String
    /// The parameter name under the module (`weight`, `bias`).
    public var parameter: String
    public var reader: any CheckpointReader
    public var index: Int
    public var info: TensorInfo { reader.tensors[index] }
}

/// An adapter read into memory: its low-rank deltas (factors as Float32 matrices: adapters are small)
/// and any whole-tensor replacements, plus notes for the report.
public struct Adapter: Sendable {
    public var path: String
    public var format: AdapterFormat
    public var deltas: [ModuleDelta]
    public var replacements: [Replacement]
    /// Facts the user should see (scale rules applied, DoRA axis chosen, …).
    public var notes: [String]
    /// Whether module names are kohya-flattened (`.` replaced by `_`), to be matched against the base.
    public var flattenedNames: Bool

    /// Reads an adapter, detecting its format unless `format` is given.
    /// `meloraScale` is the absolute scale of MyTransformers MELoRA files (which do not store it).
    public static func load(path: String, format: AdapterFormat? = nil, meloraScale: Double? = nil) throws -> Adapter {
        let detected = try format ?? AdapterDetection.detect(path: path)
        switch detected {
        case .peft: return try PEFTAdapterLoader.load(folderOrFile: path)
        case .kohya: return try KohyaAdapterLoader.load(path: path)
        case .melora: return try MELoRAAdapterLoader.load(path: path, scale: meloraScale)
        case .gguf: return try GGUFAdapterLoader.load(path: path)
        }
    }
}

/// The adapter's tensors by name, converted to Float32 matrices on request with shape checks.
struct AdapterTensors {
    let path: String
    let reader: any CheckpointReader
    let byName: [String: Int]

    init(reader: any CheckpointReader) {
        self.reader = reader
        path = reader.path
        var map: [String: Int] = [:]
        for (index, info) in reader.tensors.enumerated() { map[info.name] = index }
        byName = map
    }

    var names: [String] { reader.tensors.map(\.name) }

    func info(_ name: String) -> TensorInfo? { byName[name].map { reader.tensors[$0] } }

    /// The tensor's elements as Doubles (any float dtype).
    func values(_ name: String) throws -> [Double] {
        guard let index = byName[name] else { throw SurgeryError.malformedAdapter(path: path, tensor: name, message: "missing") }
        let info = reader.tensors[index]
        guard info.dtype.isFloatingPoint, !info.dtype.isPacked else {
            throw SurgeryError.malformedAdapter(path: path, tensor: name, message: "\(info.dtype.userName) is not a float type adapters can hold")
        }
        let data = try reader.data(at: index)
        var result = [Double](repeating: 0, count: info.elementCount)
        try result.withUnsafeMutableBufferPointer { buffer in
            try Rounding.decode(data.bytes, as: info.dtype, count: info.elementCount, into: buffer)
        }
        return result
    }

    /// The tensor as a (rows × columns) Float32 matrix; the element count must match.
    func matrix(_ name: String, rows: Int, columns: Int) throws -> Matrix {
        let values = try values(name)
        guard values.count == rows * columns else {
            throw SurgeryError.malformedAdapter(path: path, tensor: name, message: "\(values.count) elements, expected \(rows)×\(columns)")
        }
        // Factors stored in f16/bf16/f32 convert exactly; f64 factors are rounded once to Float32.
        return try Matrix(rows: rows, columns: columns, elements: values.map { Float($0) })
    }
}
